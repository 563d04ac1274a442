//! The simulated fleet: one `Node` per managed node or EC2 instance, with its history (launch,
//! scans, the change to its final status) from which every delivery and the ground truth are
//! derived. Each node comes from its own random stream, so a node is the same whichever part of
//! the fleet is written.

use crate::baseline::Baseline;
use crate::catalog::{self, Family, Patch, Platform};
use crate::rng::Rng;
use crate::time::{DAY, HOUR};

/// What the simulation is about.
#[derive(Debug, Clone)]
pub struct FleetSpec {
    /// Seed of every random choice.
    pub seed: u64,
    /// The simulated present (epoch seconds): every event happens before it.
    pub now: i64,
    /// Member account ids.
    pub accounts: Vec<String>,
    /// Regions each account runs nodes in.
    pub regions: Vec<String>,
    /// Nodes in the whole organization (managed nodes and unmanaged EC2 instances).
    pub nodes: usize,
    /// Days of AWS Config deliveries (two snapshots a day).
    pub config_days: i64,
    /// Scales the number of compliance items each node reports (1.0: what real nodes report,
    /// hundreds to thousands; tests use less). Non-compliant items are not scaled.
    pub item_scale: f64,
}

impl FleetSpec {
    /// The fleet on day `day` of `days` that end at this one (day `days - 1` is `self`): `now`
    /// that many whole days earlier, and fewer nodes, the fleet growing linearly from about half
    /// its size to all of it. Every node comes from its own random stream (`Node::generate`) and
    /// every time is relative to `now`, so a node is the same node, in the same state, on every
    /// day it exists: from one day to the next, nodes join the fleet with what they are missing.
    /// A model of a growing fleet for trends and patch ages; patching progress is not modelled.
    pub fn on_day(&self, days: usize, day: usize) -> FleetSpec {
        let days = days.max(1);
        let day = day.min(days - 1);
        let before = (days - 1 - day) as i64;
        FleetSpec {
            now: self.now - before * DAY,
            nodes: (self.nodes * (days + day + 1)).div_ceil(2 * days),
            ..self.clone()
        }
    }

    /// How many nodes the account and Region with these indexes hold.
    pub fn shard_size(&self, account: usize, region: usize) -> usize {
        let shards = self.accounts.len() * self.regions.len();
        let index = account * self.regions.len() + region;
        self.nodes / shards + usize::from(index < self.nodes % shards)
    }
}

/// Systems Manager's InstanceStatus (for unmanaged instances: their EC2 state, Active = running).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Reporting.
    Active,
    /// Stopped reporting.
    ConnectionLost,
    /// EC2 instance stopped.
    Stopped,
    /// EC2 instance terminated.
    Terminated,
}

impl Status {
    /// The InstanceStatus text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::ConnectionLost => "ConnectionLost",
            Status::Stopped => "Stopped",
            Status::Terminated => "Terminated",
        }
    }
}

/// A patch's state on a node after a scan ("Patch compliance state values", SSM User Guide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchState {
    /// Approved by the baseline and installed.
    Installed,
    /// Installed, not in the baseline (compliant).
    InstalledOther,
    /// Installed by a NoReboot install, waiting for a reboot (non-compliant).
    InstalledPendingReboot,
    /// Installed although rejected by the baseline (non-compliant).
    InstalledRejected,
    /// Approved and missing (non-compliant).
    Missing,
    /// Installation failed (non-compliant).
    Failed,
    /// Approved but not applicable to the node: reported one by one on Windows only.
    NotApplicable,
    /// Windows: a security update the baseline does not approve; compliant or not as the
    /// baseline's AvailableSecurityUpdatesComplianceStatus says.
    AvailableSecurityUpdate,
}

/// Every state, in declaration order (the order of the counts).
pub const PATCH_STATES: [PatchState; 8] = [
    PatchState::Installed,
    PatchState::InstalledOther,
    PatchState::InstalledPendingReboot,
    PatchState::InstalledRejected,
    PatchState::Missing,
    PatchState::Failed,
    PatchState::NotApplicable,
    PatchState::AvailableSecurityUpdate,
];

impl PatchState {
    /// The PatchState text.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchState::Installed => "Installed",
            PatchState::InstalledOther => "InstalledOther",
            PatchState::InstalledPendingReboot => "InstalledPendingReboot",
            PatchState::InstalledRejected => "InstalledRejected",
            PatchState::Missing => "Missing",
            PatchState::Failed => "Failed",
            PatchState::NotApplicable => "NotApplicable",
            PatchState::AvailableSecurityUpdate => "AvailableSecurityUpdate",
        }
    }

    /// Whether the state makes the node non-compliant under `baseline`.
    pub fn non_compliant(self, baseline: &Baseline) -> bool {
        match self {
            PatchState::InstalledPendingReboot
            | PatchState::InstalledRejected
            | PatchState::Missing
            | PatchState::Failed => true,
            PatchState::AvailableSecurityUpdate => baseline.available_security_noncompliant(),
            _ => false,
        }
    }

    /// The compliance item's Status: empty for not-applicable patches ("either COMPLIANT,
    /// NON_COMPLIANT, or an empty string (for Windows patches that aren't applicable)", API
    /// Reference, ComplianceItem).
    pub fn status(self, baseline: &Baseline) -> &'static str {
        if self == PatchState::NotApplicable {
            ""
        } else if self.non_compliant(baseline) {
            "NON_COMPLIANT"
        } else {
            "COMPLIANT"
        }
    }

    /// The baseline approved the patch (its compliance level is the rule's); the others are
    /// reported at UNSPECIFIED.
    pub fn approved(self) -> bool {
        matches!(
            self,
            PatchState::Installed
                | PatchState::InstalledPendingReboot
                | PatchState::Missing
                | PatchState::Failed
                | PatchState::NotApplicable
        )
    }

    /// Patch Manager leaves Classification and vendor severity empty for these: "For patches
    /// with the state INSTALLED_OTHER and NOT_APPLICABLE, Patch Manager omits some data ... such
    /// as the values for Classification and Severity" (SSM User Guide, patch compliance states).
    pub fn unclassified(self) -> bool {
        matches!(self, PatchState::InstalledOther | PatchState::NotApplicable)
    }

    /// Whether the patch is on the node (it has an InstalledTime).
    pub fn installed(self) -> bool {
        matches!(
            self,
            PatchState::Installed
                | PatchState::InstalledOther
                | PatchState::InstalledPendingReboot
                | PatchState::InstalledRejected
        )
    }
}

/// One run of AWS-RunPatchBaseline.
#[derive(Debug, Clone)]
pub struct Scan {
    /// When it ended.
    pub time: i64,
    /// `Install` rather than `Scan`.
    pub install: bool,
    /// The install's RebootOption was NoReboot (its patches stay InstalledPendingReboot).
    pub no_reboot: bool,
    /// The run's own id (PatchSummary `ExecutionId`).
    pub execution_id: String,
    /// The baseline snapshot it used (PatchSummary `SnapshotId`, the compliance items'
    /// `ExecutionId`): a different id ("The ID of the patch baseline snapshot used during the
    /// patching operation", InstancePatchState).
    pub snapshot_id: String,
    /// `Command`, or `PatchPolicy` for a Quick Setup patch policy (AWS-RunPatchBaseline,
    /// AssociationId parameter).
    pub execution_type: &'static str,
    /// The baseline it applied: a later scan may use another one, and overwrites the data.
    pub baseline: Baseline,
    /// Its patch group (empty for the default baseline and for patch policies, which do not use
    /// patch groups).
    pub patch_group: &'static str,
    /// (index into the family's patch list, state, installed time).
    pub items: Vec<(usize, PatchState, Option<i64>)>,
    /// NotApplicableCount: on Linux and macOS counted, not reported item by item.
    pub not_applicable: u64,
    /// UnreportedNotApplicableCount: -1 on some nodes (seen in AWS's CLI example; its meaning
    /// is not documented), else 0.
    pub unreported_not_applicable: i64,
    /// When the last NoReboot install ran, if one did.
    pub last_no_reboot_install: Option<i64>,
}

impl Scan {
    /// Whether any item is non-compliant.
    pub fn non_compliant(&self) -> bool {
        self.items
            .iter()
            .any(|(_, s, _)| s.non_compliant(&self.baseline))
    }

    /// The compliance status the scan gives the node.
    pub fn status(&self) -> &'static str {
        if self.non_compliant() {
            "NON_COMPLIANT"
        } else {
            "COMPLIANT"
        }
    }

    /// The compliance level of one item: the approving rule's; UNSPECIFIED for patches the
    /// baseline does not approve and for not-applicable ones (a level, never an empty string).
    pub fn level(&self, patch: &Patch, state: PatchState) -> &'static str {
        if (state.approved() && state != PatchState::NotApplicable)
            || state == PatchState::InstalledRejected
        {
            self.baseline.level(patch)
        } else {
            "UNSPECIFIED"
        }
    }
}

/// A State Manager association's compliance on the node: an Association compliance item has the
/// association id as `Id`, an empty `Title`, severity UNSPECIFIED unless the association sets
/// one, and an execution summary with a time only (AWS CLI examples, list-compliance-items).
#[derive(Debug, Clone)]
pub struct Association {
    /// Association id.
    pub id: String,
    /// The association's document.
    pub document: &'static str,
    /// Last execution.
    pub time: i64,
    /// Whether it succeeded.
    pub compliant: bool,
}

/// A custom compliance type a team writes with PutComplianceItems ("Custom:" followed by a name,
/// at most 10 per node: SSM User Guide, "About Compliance"), beside Patch and Association.
#[derive(Debug, Clone)]
pub struct CustomCompliance {
    /// `Custom:...`.
    pub type_name: &'static str,
    /// When it was written.
    pub time: i64,
    /// (id, title, severity, compliant).
    pub items: Vec<(String, &'static str, &'static str, bool)>,
}

/// One node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Index of its account in the spec.
    pub account: usize,
    /// Index of its Region in the spec.
    pub region: usize,
    /// `i-...` or `mi-...`.
    pub id: String,
    /// A hybrid (`mi-`) node.
    pub hybrid: bool,
    /// Its operating system.
    pub platform: &'static Platform,
    /// Host name.
    pub computer_name: String,
    /// Private IPv4.
    pub ip: String,
    /// SSM Agent version.
    pub agent_version: &'static str,
    /// EC2 instance type (EC2 only).
    pub instance_type: &'static str,
    /// Registered with Systems Manager (false: an EC2 instance without the agent).
    pub managed: bool,
    /// Launch (EC2) or registration (hybrid) time.
    pub launched: i64,
    /// Current status.
    pub status: Status,
    /// When the current status began (the launch for Active nodes).
    pub changed: i64,
    /// captureTime of its instance information.
    pub last_seen: i64,
    /// Patch runs, oldest first; empty if never scanned.
    pub scans: Vec<Scan>,
    /// The State Manager associations that target the node.
    pub associations: Vec<Association>,
    /// A custom compliance type, on some nodes.
    pub custom: Option<CustomCompliance>,
    /// A hybrid node deregistered at this time: the sync keeps its files ("If you delete a
    /// managed node, resource data sync preserves the inventory file", SSM User Guide), and
    /// nothing says it is gone but its last capture time.
    pub deregistered: Option<i64>,
    /// The deregistered node's last instance information says Terminated (else the status it
    /// had): which one the sync keeps is not documented, so both occur.
    pub deregistered_as_terminated: bool,
    /// When software inventory was last gathered, if ever.
    pub inventory: Option<i64>,
    /// Its tags (EC2 tags, or the managed instance's tags).
    pub tags: Vec<(String, String)>,
    /// Installed software: (index into the platform's application list, version).
    pub apps: Vec<(usize, String)>,
    /// Inventory rows omit attributes that do not apply (else they are written as "").
    pub omit_empty: bool,
    /// Patch group (empty: the default baseline).
    pub patch_group: &'static str,
}

const INSTANCE_TYPES: &[&str] = &[
    "t3.micro",
    "t3.medium",
    "m6i.large",
    "m7g.xlarge",
    "c6i.2xlarge",
    "r6i.large",
];
const ENVIRONMENTS: &[(&str, u64)] = &[("prod", 500), ("staging", 250), ("dev", 250)];
const OWNERS: &[&str] = &[
    "team-payments",
    "team-identity",
    "team-data",
    "team-web",
    "R&D <platform>",
    "team-ops",
];
const APPLICATIONS: &[&str] = &[
    "checkout",
    "ledger",
    "search",
    "reporting",
    "intranet",
    "build-farm",
];

impl Node {
    /// The node at `index` of an account and Region.
    pub fn generate(spec: &FleetSpec, account: usize, region: usize, index: usize) -> Node {
        let mut rng = Rng::stream(spec.seed, &[account as u64, region as u64, index as u64]);
        let now = spec.now;
        let hybrid = rng.chance(150);
        let platforms = if hybrid {
            catalog::HYBRID_PLATFORMS
        } else {
            catalog::EC2_PLATFORMS
        };
        let weights: Vec<(usize, u64)> = platforms
            .iter()
            .enumerate()
            .map(|(i, (_, w))| (i, *w))
            .collect();
        let platform = &platforms[rng.weighted(&weights)].0;
        let id = if hybrid {
            format!("mi-{}", rng.hex(17))
        } else {
            format!("i-{}", rng.hex(17))
        };
        let managed = hybrid || !rng.chance(80);
        // Some hybrid nodes were deregistered: their files stay. Kept clear of the reports'
        // 30-day line (GONE_AFTER_DAYS) so a run a minute later gives the same answer.
        let deregistered = (hybrid && rng.chance(80)).then(|| {
            if rng.chance(500) {
                now - rng.between(2 * DAY, 28 * DAY)
            } else {
                now - rng.between(32 * DAY, 60 * DAY)
            }
        });
        let deregistered_as_terminated = deregistered.is_some() && account % 2 == 1;
        let status = if deregistered_as_terminated {
            Status::Terminated
        } else if deregistered.is_some() {
            Status::Active
        } else if hybrid {
            rng.weighted(&[(Status::Active, 850), (Status::ConnectionLost, 150)])
        } else if managed {
            rng.weighted(&[
                (Status::Active, 740),
                (Status::ConnectionLost, 60),
                (Status::Stopped, 90),
                (Status::Terminated, 110),
            ])
        } else {
            rng.weighted(&[
                (Status::Active, 800),
                (Status::Stopped, 120),
                (Status::Terminated, 80),
            ])
        };
        let window = spec.config_days * DAY;
        let launched = match deregistered {
            Some(gone) => gone - rng.between(30 * DAY, 400 * DAY),
            None if rng.chance(50) => now - rng.between(HOUR, window),
            None => now - rng.between(30 * DAY, 400 * DAY),
        };
        let changed = match (deregistered, status) {
            (Some(gone), _) => gone,
            (None, Status::Active) => launched,
            _ => (now - rng.between(HOUR, 20 * DAY)).clamp(launched + 600, now - 600),
        };
        let last_seen = match (deregistered, status) {
            (Some(gone), _) => gone,
            // Some Active nodes stopped sending inventory long ago: live, but stale.
            (None, Status::Active) if rng.chance(30) => {
                (now - rng.between(8 * DAY, 28 * DAY)).max(launched)
            }
            (None, Status::Active) => (now - rng.between(0, 10 * HOUR)).max(launched),
            _ => changed,
        };
        let ip = format!(
            "10.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        );
        let computer_name = match (hybrid, platform.platform_type) {
            (false, "Windows") => format!("EC2AMAZ-{}", rng.hex(7).to_uppercase()),
            (false, _) => {
                let domain = if spec.regions[region] == "us-east-1" {
                    "ec2.internal".to_string()
                } else {
                    format!("{}.compute.internal", spec.regions[region])
                };
                format!("ip-{}.{domain}", ip.replace('.', "-"))
            }
            (true, "Windows") => format!("WIN-{}", rng.hex(8).to_uppercase()),
            (true, _) => format!("srv-{}.corp.example.com", rng.hex(4)),
        };
        let agent_version = rng.weighted(catalog::AGENT_VERSIONS);
        let instance_type = if hybrid {
            ""
        } else {
            *rng.pick(INSTANCE_TYPES)
        };

        // Tags: most nodes carry a few, some none; one owner value needs HTML escaping.
        let mut tags = Vec::new();
        if rng.chance(800) {
            if !hybrid {
                tags.push((
                    "Name".to_string(),
                    format!("{}-{:03}", rng.pick(APPLICATIONS), rng.below(1000)),
                ));
            }
            tags.push((
                "Environment".to_string(),
                rng.weighted(ENVIRONMENTS).to_string(),
            ));
            tags.push(("Owner".to_string(), rng.pick(OWNERS).to_string()));
            if rng.chance(500) {
                tags.push((
                    "Application".to_string(),
                    rng.pick(APPLICATIONS).to_string(),
                ));
            }
        }
        let patch_group = if rng.chance(600) {
            if platform.platform_type == "Windows" {
                "windows-prod"
            } else {
                "linux-prod"
            }
        } else {
            ""
        };
        if !patch_group.is_empty() && !tags.is_empty() {
            tags.push(("Patch Group".to_string(), patch_group.to_string()));
        }

        // While the node reported, it could be scanned and inventoried.
        let reporting_until = if status == Status::Active {
            last_seen.max(now - 600)
        } else {
            changed
        };
        let account_id = spec.accounts[account].as_str();
        // Quick Setup patch policies in some accounts and Regions: "Patch groups are not used in patching
        // operations that are based on patch policies", ExecutionType PatchPolicy.
        let patch_policy = (2 * account + region) % 4 == 3;
        let scans = if managed && !rng.chance(80) {
            let group = if patch_policy { "" } else { patch_group };
            let baseline = if patch_policy {
                Baseline::for_node(1, account_id, platform.family, "")
            } else {
                Baseline::for_node(account, account_id, platform.family, group)
            };
            let latest = (reporting_until - rng.between(0, 7 * DAY)).max(launched + 300);
            generate_scans(
                &mut rng,
                spec,
                ScanSetup {
                    family: platform.family,
                    baseline,
                    patch_group: group,
                    execution_type: if patch_policy {
                        "PatchPolicy"
                    } else {
                        "Command"
                    },
                    account,
                    account_id,
                    latest,
                    launched,
                },
            )
        } else {
            Vec::new()
        };
        let inventory = (managed && rng.chance(850)).then(|| {
            if status == Status::Active {
                last_seen
            } else {
                (changed - rng.between(600, 6 * HOUR)).max(launched)
            }
        });
        // The inventory association on inventoried nodes, and often the scan and agent update
        // associations: several Association items per node.
        let mut associations = Vec::new();
        if let Some(time) = inventory {
            for (document, per_mille, salt) in [
                ("AWS-GatherSoftwareInventory", 1000, u64::MAX),
                ("AWS-RunPatchBaseline", 600, u64::MAX - 1),
                ("AWS-UpdateSSMAgent", 500, u64::MAX - 2),
            ] {
                if rng.chance(per_mille) {
                    associations.push(Association {
                        id: Rng::stream(spec.seed, &[account as u64, region as u64, salt]).uuid(),
                        document,
                        time: time - rng.between(0, 6 * HOUR),
                        compliant: rng.chance(920),
                    });
                }
            }
        }
        let custom = (inventory.is_some() && rng.chance(100)).then(|| CustomCompliance {
            type_name: "Custom:SoftwareXCheck",
            time: reporting_until - rng.between(HOUR, 2 * DAY),
            items: (0..rng.between(1, 3))
                .map(|i| {
                    (
                        format!("SoftwareXCheck-{i}"),
                        "Approved software version",
                        *rng.pick(&["CRITICAL", "HIGH", "MEDIUM"]),
                        rng.chance(700),
                    )
                })
                .collect(),
        });
        let apps = if inventory.is_some() {
            let list = catalog::applications(platform.platform_type);
            let count = rng.between(4, 9) as usize;
            rng.sample(list.len(), count)
                .into_iter()
                .map(|app| {
                    (
                        app,
                        format!("{}.{}.{}", 1 + rng.below(9), rng.below(20), rng.below(100)),
                    )
                })
                .collect()
        } else {
            Vec::new()
        };
        Node {
            account,
            region,
            id,
            hybrid,
            platform,
            computer_name,
            ip,
            agent_version,
            instance_type,
            managed,
            launched,
            status,
            changed,
            last_seen,
            scans,
            associations,
            custom,
            deregistered,
            deregistered_as_terminated,
            inventory,
            tags,
            apps,
            omit_empty: rng.chance(500),
            patch_group,
        }
    }

    /// The PlatformName the node reports: the agent's "NotAvailable" when it could not read the
    /// platform, or nothing at all (both occur: empty platform fields are not documented).
    pub fn platform_name(&self) -> &'static str {
        self.unavailable_as_empty(self.platform.name)
    }

    /// The PlatformVersion the node reports.
    pub fn platform_version(&self) -> &'static str {
        self.unavailable_as_empty(self.platform.version)
    }

    fn unavailable_as_empty(&self, value: &'static str) -> &'static str {
        if value == "NotAvailable" && self.account % 2 == 1 {
            ""
        } else {
            value
        }
    }

    /// The patch list of the node's operating system.
    pub fn patch_list(&self) -> &'static [Patch] {
        catalog::patches(self.platform.family)
    }

    /// Whether the node exists (launched and not terminated) at time `t`.
    pub fn exists_at(&self, t: i64) -> bool {
        self.launched <= t && !(self.status == Status::Terminated && self.changed <= t)
    }

    /// Its status at time `t`.
    pub fn status_at(&self, t: i64) -> Status {
        if self.changed <= t {
            self.status
        } else {
            Status::Active
        }
    }

    /// The newest scan that ended by `t`.
    pub fn scan_at(&self, t: i64) -> Option<&Scan> {
        self.scans.iter().rev().find(|s| s.time <= t)
    }

    /// Live in Systems Manager's terms: managed and not terminated.
    pub fn live(&self) -> bool {
        self.managed && self.status != Status::Terminated
    }

    /// The value of a tag.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What a node's scans depend on.
struct ScanSetup<'a> {
    family: Family,
    baseline: Baseline,
    patch_group: &'static str,
    execution_type: &'static str,
    account: usize,
    account_id: &'a str,
    latest: i64,
    launched: i64,
}

/// How many items of a kind a node reports, scaled by `--item-scale` (at least one).
fn scaled(rng: &mut Rng, spec: &FleetSpec, lo: i64, hi: i64) -> usize {
    ((rng.between(lo, hi) as f64 * spec.item_scale).round() as usize).max(1)
}

/// Takes `count` random entries out of `pool` (its order changes).
fn draw(rng: &mut Rng, pool: &mut Vec<usize>, count: usize) -> Vec<usize> {
    let count = count.min(pool.len());
    let picked = rng.sample(pool.len(), count);
    let mut taken: Vec<usize> = picked.iter().map(|&i| pool[i]).collect();
    let mut keep = vec![true; pool.len()];
    for i in picked {
        keep[i] = false;
    }
    let mut k = keep.into_iter();
    pool.retain(|_| k.next().unwrap_or(true));
    taken.sort_unstable();
    taken
}

/// One to three patch runs, oldest first, at the volume real nodes report: on Linux hundreds of
/// installed and over a thousand installed-other patches, and thousands not applicable that are
/// only counted; on Windows not-applicable updates item by item (seed 004: 198 Installed, 1,077
/// InstalledOther, 10,254 NotApplicable on one node; "NOT_APPLICABLE ... only reported on Windows
/// Server", SSM User Guide, patch compliance states).
fn generate_scans(rng: &mut Rng, spec: &FleetSpec, setup: ScanSetup<'_>) -> Vec<Scan> {
    let patches = catalog::patches(setup.family);
    let baseline = setup.baseline.clone();
    let mut approved: Vec<usize> = (0..patches.len())
        .filter(|&i| baseline.approves(&patches[i]))
        .collect();
    let mut other: Vec<usize> = (0..patches.len())
        .filter(|&i| !baseline.approves(&patches[i]))
        .collect();
    let windows = setup.family == Family::Windows;
    let (installed_n, other_n, na_n) = match setup.family {
        Family::Windows => (
            scaled(rng, spec, 40, 200),
            scaled(rng, spec, 20, 100),
            scaled(rng, spec, 200, 1500),
        ),
        Family::MacOs => (scaled(rng, spec, 20, 80), scaled(rng, spec, 5, 30), 0),
        _ => (
            scaled(rng, spec, 150, 450),
            scaled(rng, spec, 300, 1500),
            scaled(rng, spec, 2000, 12_000),
        ),
    };
    let compliant = rng.chance(450);
    let (missing, failed, pending, rejected) = if compliant {
        (0, 0, 0, 0)
    } else {
        (
            rng.between(1, 25) as usize,
            if rng.chance(200) {
                rng.between(1, 3) as usize
            } else {
                0
            },
            if rng.chance(250) {
                rng.between(1, 4) as usize
            } else {
                0
            },
            if rng.chance(120) { 1 } else { 0 },
        )
    };
    // Windows: security updates the baseline does not approve.
    let available = if windows && rng.chance(400) {
        let mut security: Vec<usize> = other
            .iter()
            .copied()
            .filter(|&i| patches[i].is_security())
            .collect();
        let count = rng.between(1, 4) as usize;
        let picked = draw(rng, &mut security, count);
        other.retain(|i| !picked.contains(i));
        picked
    } else {
        Vec::new()
    };
    let mut items: Vec<(usize, PatchState, Option<i64>)> = Vec::new();
    let latest = setup.latest;
    let installed_at = |rng: &mut Rng| Some(latest - rng.between(HOUR, 200 * DAY));
    for i in draw(rng, &mut approved, installed_n) {
        items.push((i, PatchState::Installed, installed_at(rng)));
    }
    for (state, n) in [
        (PatchState::Missing, missing),
        (PatchState::Failed, failed),
        (PatchState::InstalledPendingReboot, pending),
    ] {
        for i in draw(rng, &mut approved, n) {
            let at = (state == PatchState::InstalledPendingReboot)
                .then(|| latest - rng.between(HOUR, DAY));
            items.push((i, state, at));
        }
    }
    if windows {
        for i in draw(rng, &mut approved, na_n) {
            items.push((i, PatchState::NotApplicable, None));
        }
    }
    for i in draw(rng, &mut other, other_n) {
        items.push((i, PatchState::InstalledOther, installed_at(rng)));
    }
    for i in draw(rng, &mut other, rejected) {
        items.push((i, PatchState::InstalledRejected, installed_at(rng)));
    }
    for i in available {
        items.push((i, PatchState::AvailableSecurityUpdate, None));
    }
    items.sort_unstable_by_key(|(i, _, _)| *i);
    // A pending reboot comes from an install with NoReboot ("Patches installed with this option
    // are assigned a status of InstalledPendingReboot", InstancePatchState RebootOption).
    let no_reboot_install = pending > 0;
    let not_applicable = if windows { 0 } else { na_n as u64 };
    let unreported = if !windows && setup.account.is_multiple_of(2) && rng.chance(300) {
        -1
    } else {
        0
    };

    let runs = rng.between(1, 3);
    let mut time = latest;
    let mut history = Vec::new();
    for run in 0..runs {
        if run > 0 {
            time -= rng.between(DAY, 3 * DAY);
            if time < setup.launched + 300 {
                break;
            }
            // Earlier, some of what is installed now was still missing.
            for item in &mut items {
                let was_missing = match item.1 {
                    PatchState::InstalledPendingReboot => true,
                    PatchState::Installed => item.2.is_some_and(|t| t > time) || rng.chance(150),
                    _ => false,
                };
                if was_missing {
                    *item = (item.0, PatchState::Missing, None);
                }
            }
        }
        let latest_run = run == 0;
        let install = latest_run && (no_reboot_install || rng.chance(200));
        // An older scan may have run under another baseline (the patch group was assigned later):
        // the newest scan overwrites it ("each scan overwrites the patch compliance data of
        // previous scans").
        let earlier_baseline = !latest_run && !setup.patch_group.is_empty() && rng.chance(300);
        history.push(Scan {
            time,
            install,
            no_reboot: install && no_reboot_install,
            execution_id: rng.uuid(),
            snapshot_id: rng.uuid(),
            execution_type: setup.execution_type,
            baseline: if earlier_baseline {
                Baseline::for_node(setup.account, setup.account_id, setup.family, "")
            } else {
                baseline.clone()
            },
            patch_group: if earlier_baseline {
                ""
            } else {
                setup.patch_group
            },
            items: items.clone(),
            not_applicable,
            unreported_not_applicable: unreported,
            last_no_reboot_install: no_reboot_install.then_some(latest),
        });
    }
    history.reverse();
    history
}
