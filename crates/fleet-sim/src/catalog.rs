//! What the simulated nodes run: operating systems, their patches, their software. Fixed lists,
//! independent of the seed, so that a patch id means the same thing in every fleet.
//!
//! A patch carries only what its vendor says about it: its classification and the vendor's
//! severity (`PatchSeverity`). Its compliance level is not the patch's: it is the level of the
//! patch baseline rule that approved it ([`crate::baseline`]).

/// An operating system as Systems Manager reports it.
#[derive(Debug)]
pub struct Platform {
    /// `Linux`, `Windows` or `MacOS` (`PlatformType`, DescribeInstanceInformation).
    pub platform_type: &'static str,
    /// PlatformName: the agent reads `NAME` of `/etc/os-release` on Linux, WMI's `Caption` on
    /// Windows and `sw_vers` on macOS (amazon-ssm-agent, `agent/platform`).
    pub name: &'static str,
    /// PlatformVersion (`VERSION_ID`, WMI `Version`, `sw_vers` ProductVersion).
    pub version: &'static str,
    /// EC2's `platformDetails` (empty for hybrid nodes, which have no EC2 record).
    pub details: &'static str,
    /// Which patch list applies.
    pub family: Family,
}

/// A patch list: the patches of one distribution, and how Patch Manager names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Amazon Linux 2023.
    Al2023,
    /// Amazon Linux 2.
    Amzn2,
    /// Red Hat Enterprise Linux and the distributions built from it (Oracle Linux, CentOS, Rocky).
    Rhel,
    /// SUSE Linux Enterprise Server.
    Suse,
    /// Ubuntu Server.
    Ubuntu,
    /// Debian Server.
    Debian,
    /// Windows Server.
    Windows,
    /// macOS.
    MacOs,
}

/// Every family, in a fixed order.
pub const FAMILIES: [Family; 8] = [
    Family::Al2023,
    Family::Amzn2,
    Family::Rhel,
    Family::Suse,
    Family::Ubuntu,
    Family::Debian,
    Family::Windows,
    Family::MacOs,
];

impl Family {
    /// Debian and Ubuntu: patches have a priority instead of a severity and no classification
    /// but "Security" (filter keys PRODUCT and PRIORITY only: API Reference,
    /// DescribePatchProperties), and no approval delay.
    pub fn debian_like(self) -> bool {
        matches!(self, Family::Ubuntu | Family::Debian)
    }

    /// The operating system name of a patch baseline for this family (`OperatingSystem`).
    pub fn operating_system(self) -> &'static str {
        match self {
            Family::Al2023 => "AMAZON_LINUX_2023",
            Family::Amzn2 => "AMAZON_LINUX_2",
            Family::Rhel => "REDHAT_ENTERPRISE_LINUX",
            Family::Suse => "SUSE",
            Family::Ubuntu => "UBUNTU",
            Family::Debian => "DEBIAN",
            Family::Windows => "WINDOWS",
            Family::MacOs => "MACOS",
        }
    }
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

/// EC2 operating systems and their share of the fleet (per mille). Names are the agent's: SLES
/// as AWS's own DescribeInstanceInformation example shows it ("PlatformName": "SLES"); the others
/// the distributions' `/etc/os-release` NAME. EC2's `platformDetails` for macOS instances is not
/// documented; "Linux/UNIX" is assumed.
pub static EC2_PLATFORMS: &[(Platform, u64)] = &[
    (
        platform(
            "Linux",
            "Amazon Linux",
            "2023",
            "Linux/UNIX",
            Family::Al2023,
        ),
        260,
    ),
    (
        platform("Linux", "Amazon Linux", "2", "Linux/UNIX", Family::Amzn2),
        150,
    ),
    (
        platform("Linux", "Ubuntu", "22.04", "Linux/UNIX", Family::Ubuntu),
        120,
    ),
    (
        platform("Linux", "Ubuntu", "24.04", "Linux/UNIX", Family::Ubuntu),
        80,
    ),
    (
        platform(
            "Linux",
            "Red Hat Enterprise Linux",
            "9.4",
            "Red Hat Enterprise Linux",
            Family::Rhel,
        ),
        70,
    ),
    (
        platform("Linux", "Rocky Linux", "9.3", "Linux/UNIX", Family::Rhel),
        20,
    ),
    (
        platform(
            "Linux",
            "Oracle Linux Server",
            "8.9",
            "Linux/UNIX",
            Family::Rhel,
        ),
        15,
    ),
    (
        platform("Linux", "CentOS Stream", "9", "Linux/UNIX", Family::Rhel),
        10,
    ),
    (
        platform("Linux", "SLES", "15.5", "SUSE Linux", Family::Suse),
        35,
    ),
    (
        platform(
            "Linux",
            "Debian GNU/Linux",
            "12",
            "Linux/UNIX",
            Family::Debian,
        ),
        40,
    ),
    (
        platform(
            "Windows",
            "Microsoft Windows Server 2022 Datacenter",
            "10.0.20348",
            "Windows",
            Family::Windows,
        ),
        100,
    ),
    (
        platform(
            "Windows",
            "Microsoft Windows Server 2019 Datacenter",
            "10.0.17763",
            "Windows",
            Family::Windows,
        ),
        50,
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
    (
        platform("MacOS", "macOS", "14.5", "Linux/UNIX", Family::MacOs),
        10,
    ),
    // A node whose agent could not read its platform ("NotAvailable" is the agent's own failure
    // value, amazon-ssm-agent agent/platform/platform.go).
    (
        platform(
            "Linux",
            "NotAvailable",
            "NotAvailable",
            "Linux/UNIX",
            Family::Al2023,
        ),
        20,
    ),
];

/// Hybrid (on-premises) operating systems.
pub static HYBRID_PLATFORMS: &[(Platform, u64)] = &[
    (
        platform("Linux", "Ubuntu", "22.04", "", Family::Ubuntu),
        350,
    ),
    (
        platform(
            "Linux",
            "Red Hat Enterprise Linux",
            "8.10",
            "",
            Family::Rhel,
        ),
        250,
    ),
    (
        platform("Linux", "Debian GNU/Linux", "11", "", Family::Debian),
        50,
    ),
    (platform("Linux", "SLES", "12.5", "", Family::Suse), 50),
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
    /// The compliance item Id (the KB on Windows, `name.arch` on Linux, the name on macOS).
    pub id: String,
    /// Title (Linux: `name.arch:epoch:version-release`; Debian and Ubuntu `name.arch:version`).
    pub title: String,
    /// The vendor's classification (`Classification`): `Security`, `Bugfix`, `SecurityUpdates`,
    /// ... ; on Debian and Ubuntu `Security` or empty.
    pub classification: &'static str,
    /// The vendor's severity (`PatchSeverity`): MSRC severity on Windows, the advisory's severity
    /// on Amazon Linux, RHEL and SUSE, the package priority on Debian and Ubuntu.
    pub vendor_severity: &'static str,
    /// Published outside the repositories a baseline draws from (a third-party or local
    /// package): never approved, so it can only be InstalledOther.
    pub foreign: bool,
}

impl Patch {
    /// Security in the vendor's terms: `SecurityNonCompliantCount` counts these ("specified as
    /// Security in a patch advisory", API Reference, InstancePatchState). Windows' CriticalUpdates
    /// are critical non-security fixes.
    pub fn is_security(&self) -> bool {
        matches!(self.classification, "Security" | "SecurityUpdates")
    }
}

/// Roots of Linux package names; with prefixes and suffixes they make thousands of packages, as
/// real distributions have (seed 004: 198 installed, 1,077 installed other and 10,254 not
/// applicable patches on one Ubuntu node).
const ROOTS: &[&str] = &[
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
    "krb5",
    "libxml2",
    "expat",
    "zlib",
    "vim",
    "tzdata",
    "ca-certificates",
    "git",
    "rsync",
    "tar",
    "gnupg2",
    "polkit",
    "dbus",
    "nginx",
    "httpd",
    "postgresql",
    "mariadb",
    "java-17",
    "docker",
    "containerd",
    "runc",
    "awscli",
    "e2fsprogs",
    "xfsprogs",
    "util-linux",
    "shadow",
    "pam",
    "sqlite",
    "libssh2",
    "bind",
    "dnsmasq",
    "chrony",
    "rsyslog",
    "logrotate",
    "cronie",
    "at",
    "coreutils",
    "findutils",
    "grep",
    "sed",
    "gawk",
    "less",
    "procps",
    "psmisc",
    "net-tools",
    "iproute",
    "iptables",
    "nftables",
    "firewalld",
    "selinux-policy",
    "audit",
    "cryptsetup",
    "lvm2",
    "mdadm",
    "parted",
    "gdisk",
    "dosfstools",
    "nfs-utils",
    "samba",
    "cifs-utils",
    "openldap",
    "cyrus-sasl",
    "libgcrypt",
    "gnutls",
    "libtasn1",
    "p11-kit",
    "libffi",
    "pcre2",
    "libyaml",
    "json-c",
    "jansson",
    "libevent",
    "libuv",
    "nodejs",
    "ruby",
    "perl",
    "php",
    "golang",
    "rust",
    "gcc",
    "binutils",
    "make",
    "cmake",
    "autoconf",
    "libtool",
    "pkgconf",
    "elfutils",
    "strace",
    "gdb",
    "valgrind",
    "tcpdump",
    "wireshark",
    "nmap",
    "wget",
    "unzip",
    "zip",
    "bzip2",
    "xz",
    "zstd",
    "lz4",
    "brotli",
    "libpng",
    "libjpeg",
    "libtiff",
    "freetype",
    "fontconfig",
    "cairo",
    "pango",
    "gtk3",
    "glib2",
    "libX11",
    "mesa",
    "alsa-lib",
    "pulseaudio",
    "cups",
    "avahi",
    "NetworkManager",
    "wpa_supplicant",
    "bluez",
    "usbutils",
    "pciutils",
    "dmidecode",
    "hwdata",
    "kmod",
    "dracut",
    "grub2",
    "shim",
    "efibootmgr",
    "tuned",
    "irqbalance",
    "numactl",
];
const PREFIXES: &[&str] = &["", "lib", "python3-", "perl-", "golang-", "ruby-"];
const SUFFIXES: &[&str] = &["", "-libs", "-devel", "-common", "-tools"];

/// Windows update kinds: (classification, MSRC severity, title).
const WINDOWS_KINDS: &[(&str, &str, &str)] = &[
    (
        "SecurityUpdates",
        "Critical",
        "Cumulative Update for Microsoft server operating system",
    ),
    (
        "SecurityUpdates",
        "Important",
        "Security Update for .NET Framework",
    ),
    (
        "SecurityUpdates",
        "Moderate",
        "Security Update for Microsoft Edge",
    ),
    (
        "SecurityUpdates",
        "Low",
        "Security Update for Windows Server",
    ),
    (
        "CriticalUpdates",
        "",
        "Servicing Stack Update for Windows Server",
    ),
    ("Updates", "", "Update for Windows Server"),
    ("UpdateRollups", "", "Update Rollup for Windows Server"),
    (
        "DefinitionUpdates",
        "",
        "Security Intelligence Update for Microsoft Defender Antivirus",
    ),
    ("FeaturePacks", "", "Feature Pack for Windows Server"),
    ("Drivers", "", "Driver Update"),
    ("Tools", "", "Windows Malicious Software Removal Tool"),
    ("ServicePacks", "", "Service Pack for Windows Server"),
];

/// (classification, vendor severity) of Red Hat-style advisories, and their weights: security
/// advisories have a severity, the others usually none.
const RPM_KINDS: &[(&str, &str, u64)] = &[
    ("Security", "Critical", 30),
    ("Security", "Important", 110),
    ("Security", "Medium", 100),
    ("Security", "Low", 60),
    ("Bugfix", "", 300),
    ("Bugfix", "Low", 50),
    ("Enhancement", "", 200),
    ("Newpackage", "", 80),
    ("Recommended", "", 70),
];
/// SUSE's: its severity scale has Moderate, not Medium (PatchFilter SEVERITY values for SUSE).
const SUSE_KINDS: &[(&str, &str, u64)] = &[
    ("Security", "Critical", 30),
    ("Security", "Important", 110),
    ("Security", "Moderate", 100),
    ("Security", "Low", 60),
    ("Recommended", "", 380),
    ("Optional", "", 150),
    ("Feature", "", 120),
    ("Yast", "", 50),
];
/// Debian and Ubuntu: the classification is `Security` when the candidate comes from a security
/// repository, otherwise empty; the priority is the package's (Required ... Extra).
const DEB_KINDS: &[(&str, &str, u64)] = &[
    ("Security", "Required", 20),
    ("Security", "Important", 60),
    ("Security", "Standard", 80),
    ("Security", "Optional", 140),
    ("", "Required", 30),
    ("", "Important", 70),
    ("", "Standard", 120),
    ("", "Optional", 400),
    ("", "Extra", 80),
];

/// Patches a family lists (thousands on Linux and Windows).
pub const CATALOG_SIZE: usize = 3600;

/// The patches of a family (built once per process).
pub fn patches(family: Family) -> &'static [Patch] {
    static LISTS: [std::sync::OnceLock<Vec<Patch>>; FAMILIES.len()] =
        [const { std::sync::OnceLock::new() }; FAMILIES.len()];
    let slot = FAMILIES.iter().position(|f| *f == family).unwrap_or(0);
    LISTS[slot].get_or_init(|| build(family))
}

/// The `i`-th entry of a weighted table, spread evenly (deterministic, seed-independent).
fn kind_of<T: Copy>(kinds: &[(T, T, u64)], i: usize) -> (T, T) {
    let total: u64 = kinds.iter().map(|k| k.2).sum();
    // A multiplicative hash spreads neighbouring packages over the kinds.
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) % total;
    for (a, b, w) in kinds {
        if x < *w {
            return (*a, *b);
        }
        x -= w;
    }
    (kinds[0].0, kinds[0].1)
}

fn build(family: Family) -> Vec<Patch> {
    let foreign = |i: usize| i % 7 == 3;
    match family {
        Family::Windows => (0..CATALOG_SIZE)
            .map(|i| {
                let (classification, vendor_severity, what) =
                    WINDOWS_KINDS[(i * 7) % WINDOWS_KINDS.len()];
                let kb = 5_000_000 + i * 13;
                Patch {
                    id: format!("KB{kb}"),
                    title: format!("{}-{:02} {what} (KB{kb})", 2024 + i % 3, 1 + i % 12),
                    classification,
                    vendor_severity,
                    foreign: foreign(i),
                }
            })
            .collect(),
        Family::MacOs => (0..400)
            .map(|i| {
                let name = format!("{}{}", ROOTS[i % ROOTS.len()], i / ROOTS.len());
                Patch {
                    title: format!("{name}.{}.{}", 1 + i % 5, i % 10),
                    id: name,
                    classification: "",
                    vendor_severity: "",
                    foreign: foreign(i),
                }
            })
            .collect(),
        linux => {
            let (arch, release) = match linux {
                Family::Al2023 => ("x86_64", "amzn2023.0."),
                Family::Amzn2 => ("x86_64", "amzn2.0."),
                Family::Rhel => ("x86_64", "el9_4."),
                Family::Suse => ("x86_64", "150500."),
                Family::Debian => ("amd64", "deb12u"),
                _ => ("amd64", "ubuntu0.22.04."),
            };
            let kinds = match linux {
                Family::Suse => SUSE_KINDS,
                Family::Ubuntu | Family::Debian => DEB_KINDS,
                _ => RPM_KINDS,
            };
            (0..CATALOG_SIZE)
                .map(|i| {
                    let root = ROOTS[i % ROOTS.len()];
                    let rest = i / ROOTS.len();
                    let name = format!(
                        "{}{root}{}",
                        PREFIXES[rest % PREFIXES.len()],
                        SUFFIXES[(rest / PREFIXES.len()) % SUFFIXES.len()]
                    );
                    let (classification, vendor_severity) = kind_of(kinds, i);
                    let id = format!("{name}.{arch}");
                    let version = format!("{}.{}.{}", 1 + i % 6, i % 13, i % 31);
                    let title = if linux.debian_like() {
                        format!("{id}:{version}-{release}{}", 1 + i % 9)
                    } else {
                        format!("{id}:{}:{version}-{release}{}", i % 3, 1 + i % 9)
                    };
                    Patch {
                        id,
                        title,
                        classification,
                        vendor_severity,
                        foreign: foreign(i),
                    }
                })
                .collect()
        }
    }
}

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
    fn every_family_has_unique_ids_security_patches_and_foreign_ones() {
        for family in FAMILIES {
            let list = patches(family);
            let mut ids: Vec<&str> = list.iter().map(|p| p.id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), list.len(), "{family:?}");
            assert!(list.iter().any(|p| p.foreign), "{family:?}");
            if family != Family::MacOs {
                assert!(list.iter().any(Patch::is_security), "{family:?}");
                assert!(
                    list.len() >= 3000,
                    "{family:?}: realistic volume needs thousands"
                );
            }
        }
        // Windows' vendor severities are MSRC's; Debian and Ubuntu carry priorities.
        assert!(
            patches(Family::Windows)
                .iter()
                .any(|p| p.vendor_severity == "Moderate")
        );
        assert!(
            patches(Family::Ubuntu)
                .iter()
                .any(|p| p.vendor_severity == "Required")
        );
        assert!(
            patches(Family::Ubuntu)
                .iter()
                .all(|p| matches!(p.classification, "Security" | ""))
        );
    }
}
