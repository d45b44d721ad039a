//! `[[groups]]`: k-of-n token groups.
//!
//! A group is a name and a threshold; its members are the recipients whose
//! `group` names it. A seal splits each backup's file key with Shamir's
//! scheme into one share per member (docs/FORMAT.md, "nkbackup/share"), so
//! that any `threshold` members together open it and fewer learn nothing.
//! A member is not a recipient on its own.

use serde::{Deserialize, Serialize};

/// One `[[groups]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// The group's name (`officers`), unique among groups and labels.
    pub name: String,
    /// How many members must be present to open a backup (2…members).
    pub threshold: u8,
}

/// Checks the groups against the recipients: names well formed and
/// unique, every member's group defined, thresholds of 2 or more, at most
/// 255 members, and no key both a member and a
/// recipient on its own (or a member twice), which would make the
/// threshold meaningless. The message says what to change.
pub(crate) fn check(
    groups: &[GroupConfig],
    recipients: &[super::RecipientConfig],
) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for g in groups {
        super::check_name("group name", &g.name).map_err(|e| e.to_string())?;
        if !names.insert(g.name.as_str()) {
            return Err(format!("group {:?} is defined twice", g.name));
        }
        if recipients.iter().any(|r| r.label == g.name) {
            return Err(format!(
                "group {:?} has the name of a recipient; give it another",
                g.name
            ));
        }
        // Fewer members than the threshold is allowed while members are
        // being enrolled; sealing refuses it ([`shortfall`]).
        let members = recipients
            .iter()
            .filter(|r| r.group.as_deref() == Some(&g.name))
            .count();
        if g.threshold < 2 {
            return Err(format!(
                "group {:?} has threshold {}: a group needs at least 2 of its members (for one token alone, enroll it as a recipient without `group`)",
                g.name, g.threshold
            ));
        }
        if members > 255 {
            return Err(format!("group {:?} has more than 255 members", g.name));
        }
    }
    for r in recipients {
        if let Some(g) = &r.group
            && !names.contains(g.as_str())
        {
            return Err(format!(
                "recipient {:?} is a member of group {g:?}, which is not defined; add [[groups]] name = {g:?} with a threshold",
                r.label
            ));
        }
    }
    for (i, a) in recipients.iter().enumerate() {
        for b in &recipients[i + 1..] {
            if a.key.trim() == b.key.trim() {
                let what = match (&a.group, &b.group) {
                    (Some(_), None) | (None, Some(_)) => {
                        "a member of a group is also a recipient on its own, so it alone opens every backup and the group's threshold means nothing; remove one of the two entries"
                    }
                    (Some(_), Some(_)) => {
                        "one key is two members, so one token counts twice towards a threshold; remove one of the two entries"
                    }
                    (None, None) => {
                        "two recipients have the same key; remove one of the two entries"
                    }
                };
                return Err(format!("{:?} and {:?}: {what}", a.label, b.label));
            }
        }
    }
    Ok(())
}

/// Why group `g` cannot be sealed to: fewer members than its threshold.
pub fn shortfall(g: &GroupConfig, members: usize) -> Option<String> {
    (usize::from(g.threshold) > members).then(|| {
        format!(
            "group {:?} needs {} members to open a backup but has {members}; enroll more members (`--group {}`) or lower its threshold",
            g.name, g.threshold, g.name
        )
    })
}
