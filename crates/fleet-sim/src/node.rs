//! The simulated fleet: one `Node` per managed node or EC2 instance, with its history (launch,
//! scans, the change to its final status) from which every delivery and the ground truth are
//! derived. Each node comes from its own random stream, so a node is the same whichever part of
//! the fleet is written.

use crate::catalog::{self, Patch, Platform};
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
}

impl FleetSpec {
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

/// A patch's state on a node after a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchState {
    /// Installed by the baseline.
    Installed,
    /// Installed, not approved by the baseline.
    InstalledOther,
    /// Installed, waiting for a reboot (non-compliant).
    InstalledPendingReboot,
    /// Installed although rejected by the baseline (non-compliant).
    InstalledRejected,
    /// Approved and missing (non-compliant).
    Missing,
    /// Installation failed (non-compliant).
    Failed,
    /// Not applicable to the node.
    NotApplicable,
}

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
        }
    }

    /// Whether the state makes the node non-compliant.
    pub fn non_compliant(self) -> bool {
        matches!(
            self,
            PatchState::InstalledPendingReboot
                | PatchState::InstalledRejected
                | PatchState::Missing
                | PatchState::Failed
        )
    }

    /// The compliance item's Status.
    pub fn status(self) -> &'static str {
        if self.non_compliant() {
            "NON_COMPLIANT"
        } else {
            "COMPLIANT"
        }
    }

    /// Patch Manager leaves Classification and Severity empty for these.
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
    /// The Run Command id.
    pub execution_id: String,
    /// (index into the family's patch list, state, installed time).
    pub items: Vec<(usize, PatchState, Option<i64>)>,
}

impl Scan {
    /// Whether any item is non-compliant.
    pub fn non_compliant(&self) -> bool {
        self.items.iter().any(|(_, s, _)| s.non_compliant())
    }

    /// The compliance status the scan gives the node.
    pub fn status(&self) -> &'static str {
        if self.non_compliant() {
            "NON_COMPLIANT"
        } else {
            "COMPLIANT"
        }
    }
}

/// The inventory association's compliance on the node.
#[derive(Debug, Clone)]
pub struct Association {
    /// Association id.
    pub id: String,
    /// Last execution.
    pub time: i64,
    /// Whether it succeeded.
    pub compliant: bool,
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
    /// The inventory association, if one targets the node.
    pub association: Option<Association>,
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
        let status = if hybrid {
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
        let launched = if rng.chance(50) {
            now - rng.between(HOUR, window)
        } else {
            now - rng.between(30 * DAY, 400 * DAY)
        };
        let changed = if status == Status::Active {
            launched
        } else {
            (now - rng.between(HOUR, 20 * DAY)).clamp(launched + 600, now - 600)
        };
        let last_seen = match status {
            // Some Active nodes stopped sending inventory long ago: live, but stale.
            Status::Active if rng.chance(30) => {
                (now - rng.between(8 * DAY, 30 * DAY)).max(launched)
            }
            Status::Active => (now - rng.between(0, 10 * HOUR)).max(launched),
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
        let mut scans = Vec::new();
        if managed && !rng.chance(80) {
            let compliant = rng.chance(450);
            let family_size = catalog::patches(platform.family).len();
            let count = rng.between(10, 22) as usize;
            let applicable = rng.sample(family_size, count);
            let latest = (reporting_until - rng.between(0, 7 * DAY)).max(launched + 300);
            let mut items: Vec<(usize, PatchState, Option<i64>)> = applicable
                .iter()
                .map(|&patch| {
                    let state = if compliant {
                        rng.weighted(&[
                            (PatchState::Installed, 700),
                            (PatchState::InstalledOther, 100),
                            (PatchState::NotApplicable, 200),
                        ])
                    } else {
                        rng.weighted(&[
                            (PatchState::Installed, 450),
                            (PatchState::InstalledOther, 80),
                            (PatchState::NotApplicable, 150),
                            (PatchState::Missing, 200),
                            (PatchState::Failed, 40),
                            (PatchState::InstalledPendingReboot, 50),
                            (PatchState::InstalledRejected, 30),
                        ])
                    };
                    let installed = state
                        .installed()
                        .then(|| latest - rng.between(HOUR, 200 * DAY));
                    (patch, state, installed)
                })
                .collect();
            if !compliant && !items.iter().any(|(_, s, _)| s.non_compliant()) {
                items[0] = (items[0].0, PatchState::Missing, None);
            }
            let runs = rng.between(1, 3);
            let mut time = latest;
            let mut history = Vec::new();
            for run in 0..runs {
                if run > 0 {
                    time -= rng.between(DAY, 3 * DAY);
                    if time < launched + 300 {
                        break;
                    }
                    // Earlier, some of what is installed now was still missing.
                    for item in &mut items {
                        let was_missing = match item.1 {
                            PatchState::InstalledPendingReboot => true,
                            PatchState::Installed => {
                                item.2.is_some_and(|t| t > time) || rng.chance(150)
                            }
                            _ => false,
                        };
                        if was_missing {
                            *item = (item.0, PatchState::Missing, None);
                        }
                    }
                }
                history.push(Scan {
                    time,
                    install: run == 0 && rng.chance(200),
                    execution_id: rng.uuid(),
                    items: items.clone(),
                });
            }
            history.reverse();
            scans = history;
        }
        let inventory = (managed && rng.chance(850)).then(|| {
            if status == Status::Active {
                last_seen
            } else {
                (changed - rng.between(600, 6 * HOUR)).max(launched)
            }
        });
        let association = inventory.map(|time| Association {
            id: Rng::stream(spec.seed, &[account as u64, region as u64, u64::MAX]).uuid(),
            time,
            compliant: rng.chance(920),
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
            association,
            inventory,
            tags,
            apps,
            omit_empty: rng.chance(500),
            patch_group,
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
