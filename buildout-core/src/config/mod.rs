//! The buildout configuration language: parsing (`parser`), section conditions (`condition`),
//! assembling layers and `extends` (`load`, `annotated`), evaluating macros and substitutions
//! (`evaluate`), start-up checks (`buildout`) and the `annotate`/`resolve` renderings (`render`).

pub mod annotated;
pub mod buildout;
pub mod condition;
pub mod error;
pub mod evaluate;
pub mod load;
pub mod parser;
pub mod pypath;
pub mod pytext;
pub mod render;

#[cfg(test)]
mod robustness;

pub use annotated::{Annotated, SectionKey, Source};
pub use buildout::{Buildout, Startup};
pub use condition::Environment;
pub use error::{Error, ErrorKind, Result};
pub use evaluate::Sections;
pub use load::{Assignment, COMPATIBLE_ZC_BUILDOUT, LoadOptions};
