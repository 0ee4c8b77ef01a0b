//! The two things of an x86-64 ELF file that decide what it needs in the guest: its
//! interpreter (PT_INTERP) and the shared libraries it names (DT_NEEDED). Read from the bytes,
//! so a binary from a Debian package is resolved against that package's libraries, never the
//! host's.

/// What a dynamic ELF file asks the loader for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Needs {
    pub interpreter: Option<String>,
    pub needed: Vec<String>,
}

fn u16_at(b: &[u8], o: usize) -> Result<u16, String> {
    b.get(o..o + 2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or_else(|| "truncated ELF file".to_string())
}

fn u32_at(b: &[u8], o: usize) -> Result<u32, String> {
    b.get(o..o + 4).map(|s| u32::from_le_bytes(s.try_into().unwrap())).ok_or_else(|| "truncated ELF file".to_string())
}

fn u64_at(b: &[u8], o: usize) -> Result<u64, String> {
    b.get(o..o + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap())).ok_or_else(|| "truncated ELF file".to_string())
}

fn c_str(b: &[u8], o: usize) -> Result<String, String> {
    let rest = b.get(o..).ok_or("string outside the ELF file")?;
    let end = rest.iter().position(|&c| c == 0).ok_or("unterminated string in the ELF file")?;
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;

/// PT_INTERP and DT_NEEDED of a little-endian ELF64 x86-64 file.
pub fn needs(b: &[u8]) -> Result<Needs, String> {
    if b.len() < 64 || &b[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if b[4] != 2 || b[5] != 1 || u16_at(b, 18)? != 62 {
        return Err("not a little-endian 64-bit x86-64 ELF file".into());
    }
    let (phoff, phentsize, phnum) = (u64_at(b, 32)? as usize, u16_at(b, 54)? as usize, u16_at(b, 56)? as usize);
    // (type, offset, vaddr, filesz) of each program header.
    let mut headers = Vec::with_capacity(phnum);
    for i in 0..phnum {
        let h = phoff + i * phentsize;
        headers.push((u32_at(b, h)?, u64_at(b, h + 8)? as usize, u64_at(b, h + 16)?, u64_at(b, h + 32)? as usize));
    }
    let mut out = Needs::default();
    if let Some(&(_, off, _, _)) = headers.iter().find(|h| h.0 == PT_INTERP) {
        out.interpreter = Some(c_str(b, off)?);
    }
    let Some(&(_, dyn_off, _, dyn_size)) = headers.iter().find(|h| h.0 == PT_DYNAMIC) else {
        return Ok(out); // static
    };
    let mut needed_offsets = Vec::new();
    let mut strtab_vaddr = None;
    let mut e = dyn_off;
    while e + 16 <= dyn_off + dyn_size {
        let (tag, val) = (u64_at(b, e)?, u64_at(b, e + 8)?);
        match tag {
            DT_NULL => break,
            DT_NEEDED => needed_offsets.push(val as usize),
            DT_STRTAB => strtab_vaddr = Some(val),
            _ => {}
        }
        e += 16;
    }
    if needed_offsets.is_empty() {
        return Ok(out);
    }
    let vaddr = strtab_vaddr.ok_or("a dynamic section without DT_STRTAB")?;
    // DT_STRTAB is an address: map it to a file offset through the PT_LOAD that holds it.
    let strtab = headers
        .iter()
        .find(|(t, _, va, sz)| *t == PT_LOAD && vaddr >= *va && vaddr < va + *sz as u64)
        .map(|(_, off, va, _)| off + (vaddr - va) as usize)
        .ok_or("DT_STRTAB is outside every loaded segment")?;
    for o in needed_offsets {
        out.needed.push(c_str(b, strtab + o)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_binary_names_its_loader_and_libc() {
        let sh = std::fs::read("/bin/sh").unwrap();
        let n = needs(&sh).unwrap();
        assert!(n.interpreter.as_deref().is_some_and(|i| i.contains("ld-linux")), "{n:?}");
        assert!(n.needed.iter().any(|l| l == "libc.so.6"), "{n:?}");
    }

    #[test]
    fn non_elf_and_foreign_files_are_errors() {
        assert!(needs(b"#!/bin/sh\n").unwrap_err().contains("not an ELF"));
        let mut arm = std::fs::read("/bin/sh").unwrap();
        arm[18] = 183; // EM_AARCH64
        assert!(needs(&arm).unwrap_err().contains("x86-64"));
    }
}
