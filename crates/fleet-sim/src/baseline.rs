//! Patch baselines: which patches a node's baseline approves, and the compliance level each
//! approved patch is reported at.
//!
//! The compliance level (the `Severity` of a Patch compliance item, the `*Count` fields of the
//! compliance summary, `CriticalNonCompliantCount`) is the baseline's, not the vendor's: "the
//! predefined baselines assign a compliance level of `Unspecified` to all patches installed using
//! those baselines. For compliance values to be assigned, you can create a copy of a predefined
//! baseline and specify the compliance values" (SSM User Guide, "About predefined and custom patch
//! baselines"); a rule's `ComplianceLevel` is "a compliance severity level for all approved
//! patches" (API Reference, PatchRule). The patch agent writes the item's `Severity` from the
//! package's compliance level and `PatchSeverity` from the vendor (PatchBaselineOperations,
//! `package_compliance.py`).
//!
//! The simulated organization mixes what real ones have: accounts whose nodes use AWS's
//! predefined baselines (every level UNSPECIFIED), accounts with a custom default baseline that
//! ranks security patches CRITICAL and the rest MEDIUM (what `member-patching.yaml` creates), and
//! accounts with a baseline that reports every Security or Bugfix patch as CRITICAL, vendor-Low
//! ones included (seed 003's workshop baseline), and accounts with one approval rule per vendor
//! severity, each with its own level (CreatePatchBaseline: "ComplianceLevel" is per rule, so
//! every level from CRITICAL to INFORMATIONAL occurs). Nodes of a patch group use the group's
//! custom baseline whatever their account's default.

use crate::catalog::{Family, Patch};

/// How a baseline's rules approve and rank patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// AWS's predefined baseline of the OS: its approval rules, every level UNSPECIFIED.
    Predefined,
    /// Security patches CRITICAL, other approved patches MEDIUM (member-patching.yaml's defaults);
    /// Windows counts unapproved security updates as missing.
    SecurityCritical,
    /// Every Security or Bugfix patch CRITICAL (seed 003).
    AllCritical,
    /// One rule per vendor severity: Critical -> CRITICAL, Important -> HIGH, Medium or
    /// Moderate -> MEDIUM, Low -> LOW, the rest INFORMATIONAL (Debian and Ubuntu, which have
    /// priorities, not severities: security HIGH, the rest LOW).
    BySeverity,
}

/// A node's patch baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// `pb-` followed by 17 hex digits.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its rules.
    pub rules: Rules,
    /// The operating system it is for.
    pub family: Family,
}

/// The predefined baselines' names (SSM User Guide, "Predefined baselines").
fn predefined_name(family: Family) -> &'static str {
    match family {
        Family::Al2023 => "AWS-AmazonLinux2023DefaultPatchBaseline",
        Family::Amzn2 => "AWS-AmazonLinux2DefaultPatchBaseline",
        Family::Rhel => "AWS-RedHatDefaultPatchBaseline",
        Family::Suse => "AWS-SuseDefaultPatchBaseline",
        Family::Ubuntu => "AWS-UbuntuDefaultPatchBaseline",
        Family::Debian => "AWS-DebianDefaultPatchBaseline",
        Family::Windows => "AWS-DefaultPatchBaseline",
        Family::MacOs => "AWS-MacOSDefaultPatchBaseline",
    }
}

/// A stable pseudo-random id of 17 hex digits from a name (the same baseline, the same id).
fn id_of(name: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("pb-{:016x}{:x}", h, h >> 60)
}

impl Baseline {
    /// The baseline a node of `family` in `account` (its index) uses: its patch group's, or its
    /// account's default.
    pub fn for_node(account: usize, account_id: &str, family: Family, patch_group: &str) -> Self {
        let rules = if !patch_group.is_empty() {
            Rules::SecurityCritical
        } else {
            [
                Rules::Predefined,
                Rules::SecurityCritical,
                Rules::AllCritical,
                Rules::BySeverity,
            ][account % 4]
        };
        let name = match rules {
            Rules::Predefined => predefined_name(family).to_owned(),
            Rules::SecurityCritical if !patch_group.is_empty() => {
                format!("{patch_group}-{}", family.operating_system().to_lowercase())
            }
            Rules::SecurityCritical => {
                format!(
                    "patch-compliance-{}",
                    family.operating_system().to_lowercase()
                )
            }
            Rules::AllCritical => format!("critical-{}", family.operating_system().to_lowercase()),
            Rules::BySeverity => {
                format!("by-severity-{}", family.operating_system().to_lowercase())
            }
        };
        // Predefined baselines are AWS's (one id per Region in reality; one here); custom ones
        // belong to the account.
        let owner = if rules == Rules::Predefined {
            "aws"
        } else {
            account_id
        };
        Baseline {
            id: id_of(&format!("{owner}/{name}")),
            name,
            rules,
            family,
        }
    }

    /// An AWS predefined baseline.
    pub fn predefined(&self) -> bool {
        self.rules == Rules::Predefined
    }

    /// Whether an approval rule of the baseline matches the patch.
    pub fn approves(&self, patch: &Patch) -> bool {
        if patch.foreign {
            return false;
        }
        let c = patch.classification;
        let s = patch.vendor_severity;
        match (self.family, self.rules) {
            // Debian, Ubuntu and macOS baselines approve every priority / update.
            (Family::Ubuntu | Family::Debian | Family::MacOs, _) => true,
            // AWS-DefaultPatchBaseline: CriticalUpdates and SecurityUpdates rated Critical or
            // Important by MSRC.
            (Family::Windows, Rules::Predefined) => {
                c == "CriticalUpdates"
                    || (c == "SecurityUpdates" && matches!(s, "Critical" | "Important"))
            }
            (Family::Windows, _) => {
                matches!(
                    c,
                    "CriticalUpdates" | "SecurityUpdates" | "Updates" | "UpdateRollups"
                )
            }
            // Predefined Linux baselines: security advisories rated Critical or Important, and
            // bug fixes.
            (Family::Suse, Rules::Predefined) => {
                c == "Security" && matches!(s, "Critical" | "Important")
            }
            (_, Rules::Predefined) => {
                (c == "Security" && matches!(s, "Critical" | "Important")) || c == "Bugfix"
            }
            (Family::Suse, _) => matches!(c, "Security" | "Recommended"),
            (_, _) => matches!(c, "Security" | "Bugfix"),
        }
    }

    /// The compliance level the baseline reports an approved patch at.
    pub fn level(&self, patch: &Patch) -> &'static str {
        match self.rules {
            Rules::Predefined => "UNSPECIFIED",
            Rules::AllCritical => "CRITICAL",
            Rules::BySeverity => match (self.family, patch.vendor_severity) {
                (Family::Ubuntu | Family::Debian, _) if patch.is_security() => "HIGH",
                (Family::Ubuntu | Family::Debian, _) => "LOW",
                (_, "Critical") => "CRITICAL",
                (_, "Important") => "HIGH",
                (_, "Medium" | "Moderate") => "MEDIUM",
                (_, "Low") => "LOW",
                _ => "INFORMATIONAL",
            },
            Rules::SecurityCritical => {
                let security = match self.family {
                    Family::Windows => {
                        matches!(patch.classification, "SecurityUpdates" | "CriticalUpdates")
                    }
                    // No security classification to rank by (member-patching's
                    // OtherComplianceLevel for every priority).
                    Family::Ubuntu | Family::Debian | Family::MacOs => false,
                    _ => patch.classification == "Security",
                };
                if security { "CRITICAL" } else { "MEDIUM" }
            }
        }
    }

    /// Windows only: whether security updates the baseline does not approve count as
    /// non-compliant (`AvailableSecurityUpdatesComplianceStatus`, "Supported for Windows Server
    /// managed nodes only", CreatePatchBaseline). member-patching.yaml sets NON_COMPLIANT.
    pub fn available_security_noncompliant(&self) -> bool {
        self.family == Family::Windows && self.rules == Rules::SecurityCritical
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::patches;

    #[test]
    fn predefined_baselines_report_every_level_unspecified() {
        let b = Baseline::for_node(0, "111111111111", Family::Al2023, "");
        assert!(b.predefined());
        assert_eq!(b.name, "AWS-AmazonLinux2023DefaultPatchBaseline");
        for p in patches(Family::Al2023).iter().filter(|p| b.approves(p)) {
            assert_eq!(b.level(p), "UNSPECIFIED");
        }
    }

    #[test]
    fn custom_baselines_rank_by_rule_not_by_vendor_severity() {
        let b = Baseline::for_node(2, "333333333333", Family::Amzn2, "");
        let low = patches(Family::Amzn2)
            .iter()
            .find(|p| p.classification == "Security" && p.vendor_severity == "Low" && !p.foreign)
            .expect("a vendor-Low security patch");
        assert_eq!(
            b.level(low),
            "CRITICAL",
            "seed 003: every Security or Bugfix patch CRITICAL"
        );
        let group = Baseline::for_node(0, "111111111111", Family::Windows, "windows-prod");
        assert_eq!(
            group.rules,
            Rules::SecurityCritical,
            "a patch group's baseline wins"
        );
        assert!(group.available_security_noncompliant());
        assert_ne!(
            group.id,
            Baseline::for_node(1, "222222222222", Family::Windows, "windows-prod").id
        );
    }

    #[test]
    fn a_rule_per_vendor_severity_gives_every_level() {
        let b = Baseline::for_node(3, "444444444444", Family::Rhel, "");
        assert_eq!(b.rules, Rules::BySeverity);
        let levels: std::collections::BTreeSet<&str> = patches(Family::Rhel)
            .iter()
            .filter(|p| b.approves(p))
            .map(|p| b.level(p))
            .collect();
        assert_eq!(
            levels.into_iter().collect::<Vec<_>>(),
            ["CRITICAL", "HIGH", "INFORMATIONAL", "LOW", "MEDIUM"]
        );
    }
}
