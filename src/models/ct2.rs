//! Reader for CTranslate2's `model.bin` (binary version 6), the format of faster-whisper models.
//!
//! Layout, little-endian, as written by CTranslate2's `ModelSpec` serialiser: `u32` binary
//! version, the spec name and a `u32` revision, then `u32` variable count and per variable its
//! name, `u8` rank, `u32` dims, `u8` data type, `u32` byte count and the raw bytes (row-major);
//! last, `u32` alias count and (alias, target) name pairs. Strings are a `u16` length that counts
//! a trailing NUL, then the UTF-8 bytes and the NUL. We only read it, to convert it.

use std::io::Read;

/// Element type of a variable, numbered as CTranslate2's `DataType` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    fn from_code(code: u8) -> Option<DType> {
        Some(match code {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::BF16,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }
}

/// One named array of the model.
#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub data: Vec<u8>,
}

impl Variable {
    /// A scalar integer attribute (e.g. `encoder/num_heads`), whatever its integer width.
    pub fn as_int(&self) -> Option<i64> {
        if !self.shape.is_empty() {
            return None;
        }
        let b = &self.data;
        Some(match self.dtype {
            DType::I8 => i64::from(b[0] as i8),
            DType::I16 => i64::from(i16::from_le_bytes([b[0], b[1]])),
            DType::I32 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Model {
    pub spec: String,
    pub revision: u32,
    pub variables: Vec<Variable>,
    /// (alias, target): a name that shares another variable's data, e.g. tied projections.
    pub aliases: Vec<(String, String)>,
}

impl Model {
    pub fn get(&self, name: &str) -> Option<&Variable> {
        let name = self
            .aliases
            .iter()
            .find(|(alias, _)| alias == name)
            .map_or(name, |(_, target)| target.as_str());
        self.variables.iter().find(|v| v.name == name)
    }
}

/// The only binary version we have read and tested against.
const VERSION: u32 = 6;
/// Bounds that no real model reaches; they stop a corrupt count from allocating wildly.
const MAX_VARIABLES: u32 = 100_000;
const MAX_RANK: u8 = 8;

fn u8_(r: &mut (impl Read + ?Sized)) -> std::io::Result<u8> {
    let mut b = [0; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn u16_(r: &mut (impl Read + ?Sized)) -> std::io::Result<u16> {
    let mut b = [0; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}

fn u32_(r: &mut (impl Read + ?Sized)) -> std::io::Result<u32> {
    let mut b = [0; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn string(r: &mut (impl Read + ?Sized)) -> Result<String, String> {
    let len = u16_(r).map_err(|e| e.to_string())? as usize;
    let mut bytes = vec![0; len];
    r.read_exact(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.pop() != Some(0) {
        return Err("a string is not NUL-terminated".into());
    }
    String::from_utf8(bytes).map_err(|_| "a name is not UTF-8".into())
}

/// Reads a whole model; errors are descriptions for the caller to put in context.
pub fn read(r: &mut (impl Read + ?Sized)) -> Result<Model, String> {
    let io = |e: std::io::Error| format!("truncated or unreadable: {e}");
    let version = u32_(r).map_err(io)?;
    if version != VERSION {
        return Err(format!(
            "binary version {version}, only {VERSION} is supported"
        ));
    }
    let spec = string(r)?;
    let revision = u32_(r).map_err(io)?;
    let count = u32_(r).map_err(io)?;
    if count > MAX_VARIABLES {
        return Err(format!("implausible variable count {count}"));
    }
    let mut variables = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let name = string(r)?;
        let rank = u8_(r).map_err(io)?;
        if rank > MAX_RANK {
            return Err(format!("{name}: implausible rank {rank}"));
        }
        let shape = (0..rank)
            .map(|_| u32_(r).map(|d| d as usize))
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(io)?;
        let code = u8_(r).map_err(io)?;
        let dtype = DType::from_code(code).ok_or(format!("{name}: unknown data type {code}"))?;
        let bytes = u32_(r).map_err(io)? as usize;
        if bytes != shape.iter().product::<usize>() * dtype.size() {
            return Err(format!(
                "{name}: {bytes} bytes do not fit shape {shape:?} of {dtype:?}"
            ));
        }
        let mut data = vec![0; bytes];
        r.read_exact(&mut data).map_err(io)?;
        variables.push(Variable {
            name,
            shape,
            dtype,
            data,
        });
    }
    let count = u32_(r).map_err(io)?;
    if count > MAX_VARIABLES {
        return Err(format!("implausible alias count {count}"));
    }
    let aliases = (0..count)
        .map(|_| Ok((string(r)?, string(r)?)))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Model {
        spec,
        revision,
        variables,
        aliases,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u16 + 1).to_le_bytes());
        out.extend(s.as_bytes());
        out.push(0);
    }

    /// Serialises variables (name, shape, dtype code, bytes) and aliases in the v6 layout.
    pub(crate) fn write(
        vars: &[(&str, &[usize], u8, Vec<u8>)],
        aliases: &[(&str, &str)],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(6u32.to_le_bytes());
        put_str(&mut out, "WhisperSpec");
        out.extend(3u32.to_le_bytes());
        out.extend((vars.len() as u32).to_le_bytes());
        for (name, shape, code, data) in vars {
            put_str(&mut out, name);
            out.push(shape.len() as u8);
            for d in *shape {
                out.extend((*d as u32).to_le_bytes());
            }
            out.push(*code);
            out.extend((data.len() as u32).to_le_bytes());
            out.extend(data);
        }
        out.extend((aliases.len() as u32).to_le_bytes());
        for (a, t) in aliases {
            put_str(&mut out, a);
            put_str(&mut out, t);
        }
        out
    }

    #[test]
    fn reads_variables_scalars_and_aliases() {
        let bytes = write(
            &[
                ("encoder/num_heads", &[], 2, 8i16.to_le_bytes().to_vec()),
                (
                    "w",
                    &[2, 1],
                    0,
                    [1f32.to_le_bytes(), 2f32.to_le_bytes()].concat(),
                ),
            ],
            &[("proj", "w")],
        );
        let model = read(&mut bytes.as_slice()).unwrap();
        assert_eq!((model.spec.as_str(), model.revision), ("WhisperSpec", 3));
        assert_eq!(model.get("encoder/num_heads").unwrap().as_int(), Some(8));
        let w = model.get("proj").unwrap();
        assert_eq!(
            (w.name.as_str(), w.shape.as_slice()),
            ("w", [2, 1].as_slice())
        );
        assert_eq!(w.dtype, DType::F32);
    }

    #[test]
    fn rejects_wrong_versions_sizes_and_truncation() {
        let mut bytes = write(&[("w", &[2], 0, vec![0; 8])], &[]);
        assert!(
            read(&mut &bytes[..bytes.len() - 3])
                .unwrap_err()
                .contains("truncated")
        );
        let bad_size = write(&[("w", &[3], 0, vec![0; 8])], &[]);
        assert!(
            read(&mut bad_size.as_slice())
                .unwrap_err()
                .contains("do not fit")
        );
        bytes[0] = 5;
        assert!(
            read(&mut bytes.as_slice())
                .unwrap_err()
                .contains("version 5")
        );
    }
}
