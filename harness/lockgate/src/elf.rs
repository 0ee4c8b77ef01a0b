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
//! depends on ([`module_depends`]). A kernel's vmlinux is asked whether it has a PVH entry
//! ([`has_pvh_entry`]).

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

/// `XEN_ELFNOTE_PHYS32_ENTRY`: a Xen note of this type holds the 32-bit entry point of the PVH
/// boot protocol, which QEMU's `-kernel` takes an uncompressed kernel by (`supply/boot_image.rs`).
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

/// Whether an uncompressed kernel (vmlinux, ET_EXEC x86-64) carries a PVH entry point: a note
/// named `Xen` of type `XEN_ELFNOTE_PHYS32_ENTRY` in a PT_NOTE segment (CONFIG_PVH).
pub fn has_pvh_entry(bytes: &[u8]) -> Result<bool, String> {
    let (phdrs, endian) = parse(bytes)?;
    for ph in phdrs {
        let Some(mut notes) = ph.notes(endian, bytes).map_err(|e| format!("PT_NOTE: {e}"))? else { continue };
        while let Some(note) = notes.next().map_err(|e| format!("PT_NOTE: {e}"))? {
            if note.name() == b"Xen" && note.n_type(endian) == object::elf::NoteType(XEN_ELFNOTE_PHYS32_ENTRY) {
                return Ok(true);
            }
        }
    }
    Ok(false)
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

    /// An ET_EXEC x86-64 ELF whose one program header is a PT_NOTE holding one note.
    fn with_note(name: &[u8], n_type: u32) -> Vec<u8> {
        let mut note = Vec::new();
        note.extend_from_slice(&((name.len() + 1) as u32).to_le_bytes());
        note.extend_from_slice(&8u32.to_le_bytes());
        note.extend_from_slice(&n_type.to_le_bytes());
        note.extend_from_slice(name);
        note.resize(12 + (name.len() + 1).div_ceil(4) * 4, 0);
        note.extend_from_slice(&0x0100_0000u64.to_le_bytes());
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4..7].copy_from_slice(&[2, 1, 1]);
        elf[16..18].copy_from_slice(&ET_EXEC.0.to_le_bytes());
        elf[18..20].copy_from_slice(&EM_X86_64.0.to_le_bytes());
        elf[20..24].copy_from_slice(&1u32.to_le_bytes());
        elf[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        elf[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        elf[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        elf[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let mut ph = vec![0u8; 56];
        ph[..4].copy_from_slice(&object::elf::PT_NOTE.0.to_le_bytes());
        ph[8..16].copy_from_slice(&120u64.to_le_bytes()); // p_offset
        ph[32..40].copy_from_slice(&(note.len() as u64).to_le_bytes()); // p_filesz
        ph[48..56].copy_from_slice(&4u64.to_le_bytes()); // p_align
        elf.extend(ph);
        elf.extend(note);
        elf
    }

    #[test]
    fn a_pvh_entry_is_a_xen_note_of_its_type() {
        assert_eq!(has_pvh_entry(&with_note(b"Xen", 18)), Ok(true));
        assert_eq!(has_pvh_entry(&with_note(b"Xen", 5)), Ok(false), "another Xen note");
        assert_eq!(has_pvh_entry(&with_note(b"GNU", 18)), Ok(false), "another owner's note of that number");
        assert!(has_pvh_entry(b"BZh9").is_err());
        // A binary of this host has notes, none of them Xen's.
        assert_eq!(has_pvh_entry(&std::fs::read("/bin/sh").unwrap()), Ok(false));
    }

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
