//! lockgate's one ELF reader: what an x86-64 executable or shared library asks the loader for
//! (its interpreter, PT_INTERP, and the libraries it names, DT_NEEDED) and the one edit lockgate
//! makes to a binary (PT_INTERP rewritten in place). Read from the bytes alone, so a runtime from
//! a Debian package is resolved against that package's libraries (`supply/runtime.rs`) and an
//! enforcer binary is checked before any boot (`enforcer/`).
//!
//! Built on `object` (gimli-rs, what std's backtraces and rustc read object files with): every
//! offset bounds-checked, and lazy, reading only the headers asked for. Not goblin, whose
//! `Elf::parse` reads every section, symbol and relocation as well: more work, and more ways
//! to refuse a binary for parts that decide nothing here. Only program headers are read (never
//! section headers, which a stripped binary may lack), as the loader itself does: DT_STRTAB is
//! an address, found in the PT_LOAD segment that holds it. A kernel module (ET_REL, which has
//! no program headers) is read by its sections instead: `.modinfo`, for the modules it
//! depends on ([`module_depends`]).

use object::elf::{FileHeader64, DT_NEEDED, DT_NULL, DT_STRSZ, DT_STRTAB, EM_X86_64, ET_DYN, ET_EXEC, PT_LOAD};
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::{LittleEndian, StringTable};

type Header = FileHeader64<LittleEndian>;
type Phdr = <Header as FileHeader>::ProgramHeader;

/// What a dynamic ELF file asks the loader for; nothing for a static one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Needs {
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
}

/// The file's header and program headers, once it is known to be x86-64 and loadable.
fn parse(bytes: &[u8]) -> Result<(&[Phdr], LittleEndian), String> {
    if !bytes.starts_with(b"\x7fELF") {
        let hint =
            if bytes.starts_with(b"#!") { " (it is a script: point the adapter at the program itself)" } else { "" };
        return Err(format!("not an ELF file{hint}"));
    }
    // EI_CLASS 2 (64-bit), EI_DATA 1 (little-endian): checked first for a message that says why.
    if bytes.get(4..6) != Some(&[2, 1]) {
        return Err("not a 64-bit little-endian ELF: the guest is x86-64".into());
    }
    let header = Header::parse(bytes).map_err(|e| format!("bad ELF header: {e}"))?;
    let endian = LittleEndian;
    let machine = header.e_machine(endian);
    if machine != EM_X86_64 {
        return Err(format!("built for ELF machine {}, not x86-64 (62): the guest is x86-64", machine.0));
    }
    let kind = header.e_type(endian);
    if kind != ET_EXEC && kind != ET_DYN {
        return Err(format!("ELF type {} is neither an executable nor a shared library", kind.0));
    }
    let phdrs = header.program_headers(endian, bytes).map_err(|e| format!("bad program headers: {e}"))?;
    Ok((phdrs, endian))
}

/// The `depends=` of a kernel module's `.modinfo` (the modules modpost found it needs, which
/// depmod's modules.dep is made from): names, possibly none.
pub fn module_depends(bytes: &[u8]) -> Result<Vec<String>, String> {
    use object::read::elf::SectionHeader;
    if !bytes.starts_with(b"\x7fELF") || bytes.get(4..6) != Some(&[2, 1]) {
        return Err("not a 64-bit little-endian ELF file (a kernel module for x86-64)".into());
    }
    let header = Header::parse(bytes).map_err(|e| format!("bad ELF header: {e}"))?;
    let endian = LittleEndian;
    if header.e_type(endian) != object::elf::ET_REL {
        return Err(format!("ELF type {} is not a kernel module's (relocatable, 1)", header.e_type(endian).0));
    }
    let sections = header.sections(endian, bytes).map_err(|e| format!("bad section headers: {e}"))?;
    let Some((_, modinfo)) = sections.section_by_name(endian, b".modinfo") else {
        return Err("no .modinfo section: not a kernel module".into());
    };
    let data = modinfo.data(endian, bytes).map_err(|e| format!(".modinfo: {e}"))?;
    Ok(data
        .split(|&b| b == 0)
        .find_map(|field| field.strip_prefix(b"depends="))
        .map(|list| text(list).split(',').filter(|n| !n.is_empty()).map(str::to_string).collect())
        .unwrap_or_default())
}

fn text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// PT_INTERP and DT_NEEDED (in the file's order) of a little-endian ELF64 x86-64 file.
pub fn read(bytes: &[u8]) -> Result<Needs, String> {
    let (phdrs, endian) = parse(bytes)?;
    let mut out = Needs::default();
    for ph in phdrs {
        if let Some(interp) = ph.interpreter(endian, bytes).map_err(|e| format!("PT_INTERP: {e}"))? {
            out.interpreter = Some(text(interp));
            break;
        }
    }
    let mut dynamic = None;
    for ph in phdrs {
        if let Some(d) = ph.dynamic(endian, bytes).map_err(|e| format!("PT_DYNAMIC: {e}"))? {
            dynamic = Some(d);
            break;
        }
    }
    let Some(dynamic) = dynamic else { return Ok(out) }; // static
    let (mut needed, mut strtab, mut strsz) = (Vec::new(), None, None);
    for d in dynamic.iter().take_while(|d| d.d_tag(endian) != DT_NULL) {
        match d.d_tag(endian) {
            DT_NEEDED => needed.push(d.d_val(endian)),
            DT_STRTAB => strtab = Some(d.d_val(endian)),
            DT_STRSZ => strsz = Some(d.d_val(endian)),
            _ => {}
        }
    }
    if needed.is_empty() {
        return Ok(out);
    }
    let vaddr = strtab.ok_or("a dynamic section without DT_STRTAB")?;
    // The table runs to DT_STRSZ, or (without one) to the end of its segment's bytes in the file.
    let strings = phdrs
        .iter()
        .filter(|ph| ph.p_type(endian) == PT_LOAD)
        .find_map(|ph| {
            let data = ph.data(endian, bytes).ok()?;
            let start = usize::try_from(vaddr.checked_sub(ph.p_vaddr(endian))?).ok()?;
            let rest = data.get(start..).filter(|r| !r.is_empty())?;
            Some(match strsz {
                Some(n) => rest.get(..usize::try_from(n).ok()?)?,
                None => rest,
            })
        })
        .ok_or("DT_STRTAB is outside every loaded segment")?;
    let strings = StringTable::new(strings, 0, strings.len() as u64);
    for offset in needed {
        let name = u32::try_from(offset)
            .ok()
            .and_then(|o| strings.get(o).ok())
            .ok_or("a DT_NEEDED name outside the string table")?;
        out.needed.push(text(name));
    }
    Ok(out)
}

/// Rewrites PT_INTERP in place to `new`, padding with NULs (as patchelf does when the new path
/// fits); the file keeps its size and every other byte.
pub fn set_interpreter(bytes: &mut [u8], new: &str) -> Result<(), String> {
    let (offset, size) = {
        let (phdrs, endian) = parse(bytes)?;
        let ph = phdrs
            .iter()
            .find(|ph| ph.p_type(endian) == object::elf::PT_INTERP)
            .ok_or("a static binary has no interpreter to replace")?;
        let (offset, size) = ph.file_range(endian);
        (offset as usize, size as usize)
    };
    if new.len() + 1 > size {
        return Err(format!("`{new}` does not fit in the {size} bytes of PT_INTERP"));
    }
    let slot = bytes.get_mut(offset..offset + size).ok_or("PT_INTERP points outside the file")?;
    slot.fill(0);
    slot[..new.len()].copy_from_slice(new.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_binary_names_its_loader_and_libc() {
        let sh = std::fs::read("/bin/sh").unwrap();
        let n = read(&sh).unwrap();
        assert!(n.interpreter.as_deref().is_some_and(|i| i.contains("ld-linux")), "{n:?}");
        assert!(n.needed.iter().any(|l| l == "libc.so.6"), "{n:?}");
        // A shared library: libc names the loader among its own needs.
        let libc = std::fs::read("/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        assert!(read(&libc).unwrap().needed.iter().any(|l| l.starts_with("ld-linux")));
    }

    #[test]
    fn the_interpreter_is_rewritten_in_place() {
        let sh = std::fs::read("/bin/sh").unwrap();
        let mut patched = sh.clone();
        set_interpreter(&mut patched, "/lockgate/lib/ld.so").unwrap();
        assert_eq!(read(&patched).unwrap().interpreter.as_deref(), Some("/lockgate/lib/ld.so"));
        assert_eq!(read(&patched).unwrap().needed, read(&sh).unwrap().needed);
        assert_eq!(patched.len(), sh.len());
        assert!(set_interpreter(&mut patched, &"/x".repeat(40)).unwrap_err().contains("does not fit"));
    }

    #[test]
    fn non_elf_and_foreign_files_are_errors() {
        assert!(read(b"#!/bin/sh\n").unwrap_err().contains("it is a script"));
        assert!(read(b"hello").unwrap_err().contains("not an ELF"));
        let sh = std::fs::read("/bin/sh").unwrap();
        let mut arm = sh.clone();
        arm[18] = 183; // EM_AARCH64
        assert!(read(&arm).unwrap_err().contains("not x86-64 (62)"));
        let mut big = sh.clone();
        big[5] = 2; // ELFDATA2MSB
        assert!(read(&big).unwrap_err().contains("64-bit little-endian"));
        let mut rel = sh.clone();
        rel[16] = 1; // ET_REL
        assert!(read(&rel).unwrap_err().contains("neither an executable"));
        assert!(read(&sh[..40]).unwrap_err().contains("bad ELF header"));
    }
}
