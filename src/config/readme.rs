//! The README's settings tables, rendered from the settings table, and the test that keeps
//! README.md equal to them.

use super::no_effect;
use super::settings::{Naming, Setting, SETTINGS};
use super::sources::IGNORED_NAMESPACES;

/// The README's settings tables in markdown: soketi's settings, then fanoutd's own (those
/// with exact `FANOUTD_*` names), one row per entry of the settings table, in its order.
pub fn settings_tables() -> String {
    let mut out = String::new();
    out.push_str("| env | config key | default | meaning |\n| --- | --- | --- | --- |\n");
    for setting in SETTINGS.iter().filter(|s| s.naming != Naming::Exact) {
        out.push_str(&row(setting));
    }
    out.push_str("\nfanoutd's own settings (exact names only):\n\n");
    out.push_str("| env | config key | default | meaning |\n| --- | --- | --- | --- |\n");
    for setting in SETTINGS.iter().filter(|s| s.naming == Naming::Exact) {
        out.push_str(&row(setting));
    }
    let namespaces: Vec<String> = IGNORED_NAMESPACES
        .iter()
        .map(|n| format!("`{n}.*`"))
        .collect();
    let variables: Vec<String> = no_effect::VARIABLES
        .iter()
        .map(|(name, _)| format!("`SOKETI_{name}`"))
        .collect();
    out.push_str(&format!(
        "\nAccepted for soketi compatibility but without effect yet, each logged as a warning \
         at start-up: a per-app `webhooks` list (`SOKETI_DEFAULT_APP_WEBHOOKS`), an empty \
         string in the config file (the default is used), any config-file key under {} not in \
         the tables above, and these variables (`SOKETI_` names only): {}.\n",
        namespaces.join(", "),
        variables.join(", ")
    ));
    out
}

fn row(setting: &Setting) -> String {
    let variables: Vec<String> = setting
        .naming
        .variables(setting.env)
        .iter()
        .map(|v| format!("`{v}`"))
        .collect();
    let cells = [
        variables.join(", "),
        format!("`{}`", setting.key),
        setting.kind.default_shown(),
        setting.doc.to_string(),
    ];
    // A `|` inside a cell would end it.
    let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
    format!("| {} |\n", cells.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- settings tables: generated from src/config/settings.rs -->\n";
    const END: &str = "<!-- end of the generated settings tables -->\n";

    /// README.md's settings tables are the rendered ones. To update README.md after changing
    /// the settings table: `FANOUTD_BLESS=1 cargo test --lib readme`.
    #[test]
    fn readme_settings_tables_are_generated() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path).expect("README.md");
        let start = readme.find(BEGIN).expect("README.md: no BEGIN marker") + BEGIN.len();
        let end = start + readme[start..].find(END).expect("README.md: no END marker");
        let rendered = format!("\n{}\n", settings_tables());
        if readme[start..end] == rendered {
            return;
        }
        if std::env::var_os("FANOUTD_BLESS").is_some() {
            let updated = format!("{}{rendered}{}", &readme[..start], &readme[end..]);
            std::fs::write(&path, updated).expect("write README.md");
            return;
        }
        panic!(
            "README.md's settings tables differ from src/config/settings.rs; \
             regenerate them with: FANOUTD_BLESS=1 cargo test --lib readme"
        );
    }
}
