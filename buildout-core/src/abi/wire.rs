//! The JSON payloads that cross the recipe ABI. Every struct ignores unknown fields and defaults
//! missing ones, so either side can be newer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a library says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// The distribution name recipes name it by (`zc.zodbrecipes`).
    pub distribution: String,
    pub version: String,
    /// Install entries (`server`, `default`, ...).
    pub entries: Vec<String>,
    /// Entries that have an uninstall function.
    pub uninstall: Vec<String>,
}

/// Construct the recipe of `entry` for part `part` with its evaluated options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Construct {
    pub entry: String,
    pub part: String,
    pub options: BTreeMap<String, String>,
    /// Options of the evaluated `[buildout]` section that nearly every recipe reads (the
    /// directories, `executable`, `offline`, `newest`), so they need no round trip; recipes ask
    /// for any other through the host's `get`.
    pub buildout: BTreeMap<String, String>,
}

/// The result of construction: the part's options as the recipe left them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Constructed {
    pub options: BTreeMap<String, String>,
    /// Options the recipe read (for zc.buildout's unused-option warning).
    pub used: Vec<String>,
    /// What the part's `__buildout_signature__` records instead of the library's distribution
    /// and version (ABI 2.1): a recipe that serves other distributions' recipes (the Python
    /// bridge) names the one it ran, so that a new version of it reinstalls the part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// The result of `install`/`update`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Installed {
    /// Paths created; `None` from `update` keeps the ones recorded before.
    pub paths: Option<Vec<String>>,
    /// Options read since construction.
    pub used: Vec<String>,
}

/// Run the uninstall entry `entry` for part `part`, with the options saved at install time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Uninstall {
    pub entry: String,
    pub part: String,
    pub options: BTreeMap<String, String>,
}

/// Host service `get`: an option of any section (evaluating it, as `buildout[s][o]` does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GetOption {
    pub section: String,
    pub option: String,
}

/// Host service `set` (ABI 2.1): sets an option of another section, as a zc.buildout recipe
/// does with `buildout[section][option] = value`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SetOption {
    pub section: String,
    pub option: String,
    pub value: String,
}

/// Host service `log`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogRecord {
    /// Python logging level number (10 debug, 20 info, 30 warning, 40 error).
    pub level: u8,
    /// The logger name; the part name unless the recipe chose another.
    pub logger: String,
    pub message: String,
}

/// Host service `created`: paths the recipe is about to create, removed if the call fails.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Created {
    pub paths: Vec<String>,
}

/// Host service `progress`: how far a long step (fetching, unpacking) has got.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
    pub message: String,
}

/// Host service `picked`: one version a recipe picked without a pin, and (for zc.buildout's
/// `# Required by:` lines) the distributions in its working set that require it by bare name,
/// as `name==version`. Recipes built before `required_by` existed send `[name, version]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "PickedShape")]
pub struct Picked {
    pub name: String,
    pub version: String,
    pub required_by: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PickedShape {
    Full { name: String, version: String, required_by: Vec<String> },
    Pair(String, String),
}

impl From<PickedShape> for Picked {
    fn from(shape: PickedShape) -> Picked {
        match shape {
            PickedShape::Full { name, version, required_by } => Picked { name, version, required_by },
            PickedShape::Pair(name, version) => Picked { name, version, required_by: Vec::new() },
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// Something the user can fix (zc.buildout's `UserError`): printed as `Error: message`.
    #[default]
    User,
    /// A bug or an unexpected failure.
    Internal,
    /// The recipe panicked.
    Panic,
    /// `update` is not implemented: the host warns and calls `install`.
    NoUpdate,
    /// An error of the host (evaluating another section), passed back through the recipe.
    Host,
}

/// An error crossing the boundary in either direction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecipeError {
    pub kind: ErrorKind,
    pub message: String,
    /// `While:` steps the error passed through (for host errors), outermost first.
    pub doing: Vec<String>,
    /// Extra context shown with `-D` (a panic location, a cause chain).
    pub detail: Option<String>,
}

impl RecipeError {
    pub fn user(message: impl Into<String>) -> RecipeError {
        RecipeError { kind: ErrorKind::User, message: message.into(), ..RecipeError::default() }
    }

    pub fn internal(message: impl Into<String>) -> RecipeError {
        RecipeError { kind: ErrorKind::Internal, message: message.into(), ..RecipeError::default() }
    }

    pub fn to_json(&self) -> String {
        // Serialising plain strings and vectors cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"kind\":\"internal\"}"))
    }

    /// Reads an error sent by the other side; text that is not one becomes an internal error.
    pub fn from_json(text: &str) -> RecipeError {
        serde_json::from_str(text).unwrap_or_else(|_| RecipeError::internal(text))
    }
}

impl std::fmt::Display for RecipeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecipeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_reads_both_shapes() {
        let cases = [
            (r#"["demo","0.4"]"#, Picked { name: "demo".into(), version: "0.4".into(), required_by: vec![] }),
            (
                r#"{"name":"demoneeded","version":"1.1","required_by":["demo==0.4"]}"#,
                Picked { name: "demoneeded".into(), version: "1.1".into(), required_by: vec!["demo==0.4".into()] },
            ),
        ];
        for (text, expected) in cases {
            let got: Picked = serde_json::from_str(text).expect(text);
            assert_eq!(got, expected);
            let again: Picked = serde_json::from_str(&serde_json::to_string(&got).expect("to json")).expect("back");
            assert_eq!(again, expected);
        }
    }
}
