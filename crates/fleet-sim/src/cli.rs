//! The fleet options every tool that simulates a fleet shares (`fleet-sim`, the demo), parsed with
//! clap so that each tool spells and checks them the same way.

use clap::Args;

use crate::node::FleetSpec;
use crate::{account_ids, parse_time, time};

/// Which organization to simulate.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// Nodes in the organization (managed nodes and unmanaged EC2 instances).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub nodes: u64,
    /// Member accounts, their ids derived from the seed.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub accounts: u64,
    /// Explicit 12-digit account ids instead of --accounts.
    #[arg(long, value_delimiter = ',', value_parser = account_id, conflicts_with = "accounts")]
    pub account_ids: Option<Vec<String>>,
    /// Regions each account runs nodes in.
    #[arg(long, value_delimiter = ',', default_value = "us-east-1,eu-west-1", value_parser = region)]
    pub regions: Vec<String>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The simulated present, e.g. 2026-11-22T12:00:00Z (default: now, to the minute).
    #[arg(long, value_parser = parse_time)]
    pub now: Option<i64>,
    /// Days of AWS Config snapshots, two a day.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(i64).range(1..=31))]
    pub config_days: i64,
    /// Scale the compliance items each node reports (1: what real nodes report, hundreds to
    /// thousands; 0.02 for quick tests).
    #[arg(long, default_value_t = 1.0, value_parser = item_scale)]
    pub item_scale: f64,
}

impl FleetArgs {
    /// The fleet these options describe.
    pub fn spec(&self) -> FleetSpec {
        FleetSpec {
            seed: self.seed,
            now: self.now.unwrap_or_else(|| time::now() / 60 * 60),
            accounts: self
                .account_ids
                .clone()
                .unwrap_or_else(|| account_ids(self.seed, self.accounts as usize)),
            regions: self.regions.clone(),
            nodes: self.nodes as usize,
            config_days: self.config_days,
            item_scale: self.item_scale,
        }
    }
}

fn account_id(text: &str) -> Result<String, String> {
    if aws_setup::names::is_account_id(text) {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is not a 12-digit account id"))
    }
}

fn region(text: &str) -> Result<String, String> {
    if aws_setup::names::is_region(text) {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is not a Region name like eu-west-1"))
    }
}

fn item_scale(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f > 0.0 && *f <= 10.0)
        .ok_or_else(|| format!("{text:?}: expected a number above 0, at most 10"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        fleet: FleetArgs,
    }

    fn parse(args: &[&str]) -> Result<FleetArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("x").chain(args.iter().copied())).map(|c| c.fleet)
    }

    #[test]
    fn defaults_and_lists() {
        let f = parse(&[
            "--regions",
            "us-east-1,ap-southeast-2",
            "--now",
            "2026-11-22T12:00:00Z",
        ])
        .expect("valid options");
        let spec = f.spec();
        assert_eq!(spec.nodes, 300);
        assert_eq!(spec.accounts.len(), 3);
        assert_eq!(spec.regions, ["us-east-1", "ap-southeast-2"]);
        assert_eq!(
            spec.now,
            parse_time("2026-11-22T12:00:00Z").expect("a time")
        );
    }

    #[test]
    fn bad_values_name_the_option() {
        for args in [
            &["--regions", "Ireland"][..],
            &["--account-ids", "123"],
            &["--item-scale", "0"],
            &["--nodes", "0"],
            &["--accounts", "2", "--account-ids", "111122223333"],
        ] {
            let e = parse(args).expect_err("refused").to_string();
            assert!(e.contains(args[0]), "{args:?}: {e}");
        }
    }
}
