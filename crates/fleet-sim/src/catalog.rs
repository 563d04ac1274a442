//! What the simulated nodes run: operating systems, their patches, their software. Fixed lists,
//! independent of the seed, so that a patch id means the same thing in every fleet.

/// An operating system as Systems Manager reports it.
#[derive(Debug)]
pub struct Platform {
    /// `Linux` or `Windows`.
    pub platform_type: &'static str,
    /// PlatformName.
    pub name: &'static str,
    /// PlatformVersion.
    pub version: &'static str,
    /// EC2's `platformDetails`.
    pub details: &'static str,
    /// Which patch list applies.
    pub family: Family,
}

/// A patch list: the patches of one distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Amazon Linux 2023.
    Al2023,
    /// Amazon Linux 2.
    Amzn2,
    /// Red Hat Enterprise Linux 8 and 9.
    Rhel,
    /// Ubuntu.
    Ubuntu,
    /// Windows Server.
    Windows,
}

const fn platform(
    platform_type: &'static str,
    name: &'static str,
    version: &'static str,
    details: &'static str,
    family: Family,
) -> Platform {
    Platform {
        platform_type,
        name,
        version,
        details,
        family,
    }
}

/// EC2 operating systems and their share of the fleet (per mille).
pub static EC2_PLATFORMS: &[(Platform, u64)] = &[
    (
        platform(
            "Linux",
            "Amazon Linux",
            "2023",
            "Linux/UNIX",
            Family::Al2023,
        ),
        300,
    ),
    (
        platform("Linux", "Amazon Linux", "2", "Linux/UNIX", Family::Amzn2),
        180,
    ),
    (
        platform("Linux", "Ubuntu", "22.04", "Linux/UNIX", Family::Ubuntu),
        140,
    ),
    (
        platform("Linux", "Ubuntu", "24.04", "Linux/UNIX", Family::Ubuntu),
        100,
    ),
    (
        platform(
            "Linux",
            "Red Hat Enterprise Linux",
            "9.4",
            "Red Hat Enterprise Linux",
            Family::Rhel,
        ),
        90,
    ),
    (
        platform(
            "Windows",
            "Microsoft Windows Server 2022 Datacenter",
            "10.0.20348",
            "Windows",
            Family::Windows,
        ),
        110,
    ),
    (
        platform(
            "Windows",
            "Microsoft Windows Server 2019 Datacenter",
            "10.0.17763",
            "Windows",
            Family::Windows,
        ),
        60,
    ),
    (
        platform(
            "Windows",
            "Microsoft Windows Server 2016 Datacenter",
            "10.0.14393",
            "Windows",
            Family::Windows,
        ),
        20,
    ),
];

/// Hybrid (on-premises) operating systems.
pub static HYBRID_PLATFORMS: &[(Platform, u64)] = &[
    (
        platform("Linux", "Ubuntu", "22.04", "", Family::Ubuntu),
        400,
    ),
    (
        platform(
            "Linux",
            "Red Hat Enterprise Linux",
            "8.10",
            "",
            Family::Rhel,
        ),
        300,
    ),
    (
        platform(
            "Windows",
            "Microsoft Windows Server 2016 Standard",
            "10.0.14393",
            "",
            Family::Windows,
        ),
        200,
    ),
    (
        platform(
            "Windows",
            "Microsoft Windows Server 2022 Standard",
            "10.0.20348",
            "",
            Family::Windows,
        ),
        100,
    ),
];

/// One patch: what Patch Manager reports about it, whatever its state on a node.
#[derive(Debug, Clone)]
pub struct Patch {
    /// The compliance item Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Vendor classification.
    pub classification: &'static str,
    /// Compliance severity (CRITICAL ... UNSPECIFIED).
    pub severity: &'static str,
    /// Vendor severity.
    pub patch_severity: &'static str,
}

impl Patch {
    /// Whether the classification is a security one (counted in SecurityNonCompliantCount).
    pub fn is_security(&self) -> bool {
        matches!(
            self.classification,
            "Security" | "SecurityUpdates" | "CriticalUpdates"
        )
    }
}

const LINUX_PACKAGES: &[&str] = &[
    "kernel",
    "openssl",
    "glibc",
    "curl",
    "sudo",
    "bash",
    "openssh",
    "systemd",
    "python3",
    "nss",
    "krb5-libs",
    "libxml2",
    "expat",
    "zlib",
    "vim-minimal",
    "tzdata",
    "ca-certificates",
    "git",
    "rsync",
    "tar",
    "gnupg2",
    "libcurl",
    "polkit",
    "dbus",
    "nginx",
    "httpd",
    "postgresql",
    "mariadb",
    "java-17-amazon-corretto",
    "docker",
    "containerd",
    "runc",
    "awscli",
    "e2fsprogs",
    "xfsprogs",
    "util-linux",
    "shadow-utils",
    "pam",
    "sqlite",
    "libssh2",
];

/// (classification, vendor severity, compliance severity) cycled over Linux packages: every
/// severity and several classifications occur in every family.
const LINUX_KINDS: &[(&str, &str, &str)] = &[
    ("Security", "Critical", "CRITICAL"),
    ("Security", "Important", "HIGH"),
    ("Bugfix", "Medium", "MEDIUM"),
    ("Security", "Medium", "MEDIUM"),
    ("Bugfix", "Low", "LOW"),
    ("Enhancement", "", "INFORMATIONAL"),
    ("Security", "Low", "LOW"),
    ("Recommended", "", "UNSPECIFIED"),
    ("Security", "Important", "HIGH"),
    ("Newpackage", "", "INFORMATIONAL"),
];

const WINDOWS_KINDS: &[(&str, &str, &str, &str)] = &[
    (
        "SecurityUpdates",
        "Critical",
        "CRITICAL",
        "Cumulative Update for Windows Server",
    ),
    (
        "SecurityUpdates",
        "Important",
        "HIGH",
        "Security Update for .NET Framework",
    ),
    (
        "CriticalUpdates",
        "Critical",
        "CRITICAL",
        "Servicing Stack Update for Windows Server",
    ),
    ("Updates", "Moderate", "MEDIUM", "Update for Windows Server"),
    (
        "UpdateRollups",
        "Low",
        "LOW",
        "Update Rollup for Windows Server",
    ),
    (
        "DefinitionUpdates",
        "Unspecified",
        "UNSPECIFIED",
        "Security Intelligence Update for Microsoft Defender",
    ),
    (
        "SecurityUpdates",
        "Moderate",
        "MEDIUM",
        "Security Update for Microsoft Edge",
    ),
    (
        "Updates",
        "Unspecified",
        "INFORMATIONAL",
        "Feature Update for Windows Server",
    ),
];

/// The patches of a family (built once per process).
pub fn patches(family: Family) -> &'static [Patch] {
    static LISTS: [std::sync::OnceLock<Vec<Patch>>; 5] = [const { std::sync::OnceLock::new() }; 5];
    let slot = FAMILIES.iter().position(|f| *f == family).unwrap_or(0);
    LISTS[slot].get_or_init(|| build(family))
}

fn build(family: Family) -> Vec<Patch> {
    match family {
        Family::Windows => (0..40)
            .map(|i| {
                let (classification, patch_severity, severity, what) =
                    WINDOWS_KINDS[i % WINDOWS_KINDS.len()];
                let kb = 5_031_300 + i * 17;
                Patch {
                    id: format!("KB{kb}"),
                    title: format!("2026-{:02} {what} (KB{kb})", 1 + i % 11),
                    classification,
                    severity,
                    patch_severity,
                }
            })
            .collect(),
        linux => {
            let release = match linux {
                Family::Al2023 => "amzn2023.0.",
                Family::Amzn2 => "amzn2.0.",
                Family::Rhel => "el9_4.",
                _ => "ubuntu0.",
            };
            LINUX_PACKAGES
                .iter()
                .enumerate()
                .map(|(i, package)| {
                    let (classification, patch_severity, severity) =
                        LINUX_KINDS[i % LINUX_KINDS.len()];
                    let id = format!("{package}.x86_64");
                    Patch {
                        title: format!("{id}:0:{}.{}-{}{}", 1 + i % 6, i % 13, release, 1 + i % 9),
                        id,
                        classification,
                        severity,
                        patch_severity,
                    }
                })
                .collect()
        }
    }
}

/// Every family, in a fixed order.
pub const FAMILIES: [Family; 5] = [
    Family::Al2023,
    Family::Amzn2,
    Family::Rhel,
    Family::Ubuntu,
    Family::Windows,
];

/// (name, publisher) of software a node may have installed.
pub fn applications(platform_type: &str) -> &'static [(&'static str, &'static str)] {
    if platform_type == "Windows" {
        &[
            ("Microsoft Edge", "Microsoft Corporation"),
            (
                "Microsoft .NET Runtime - 8.0.11 (x64)",
                "Microsoft Corporation",
            ),
            ("Amazon SSM Agent", "Amazon Web Services"),
            ("AWS Tools for Windows", "Amazon Web Services"),
            ("7-Zip 24.08 (x64)", "Igor Pavlov"),
            ("Notepad++ (64-bit x64)", "Notepad++ Team"),
            ("Microsoft SQL Server 2022", "Microsoft Corporation"),
            ("Google Chrome", "Google LLC"),
            ("Python 3.12.7 (64-bit)", "Python Software Foundation"),
            (
                "Microsoft Visual C++ 2015-2022 Redistributable (x64)",
                "Microsoft Corporation",
            ),
        ]
    } else {
        &[
            ("amazon-ssm-agent", "Amazon.com"),
            ("openssl", "Vendor"),
            ("bash", "Vendor"),
            ("curl", "Vendor"),
            ("python3", "Vendor"),
            ("nginx", "Vendor"),
            ("docker", "Vendor"),
            ("git", "Vendor"),
            ("postgresql", "Vendor"),
            ("java-17-amazon-corretto", "Amazon.com"),
            ("htop", "Vendor"),
            ("jq", "Vendor"),
        ]
    }
}

/// SSM Agent versions in the fleet, newest first, with their shares.
pub static AGENT_VERSIONS: &[(&str, u64)] = &[
    ("3.3.1142.0", 450),
    ("3.3.987.0", 250),
    ("3.2.2303.0", 150),
    ("3.1.1732.0", 100),
    ("2.3.1644.0", 50),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_has_every_severity_and_unique_ids() {
        for family in FAMILIES {
            let list = patches(family);
            let mut ids: Vec<&str> = list.iter().map(|p| p.id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), list.len(), "{family:?}");
            for severity in crate::sync::SEVERITIES {
                assert!(
                    list.iter().any(|p| p.severity == severity),
                    "{family:?} {severity}"
                );
            }
            assert!(list.iter().any(Patch::is_security));
        }
    }
}
