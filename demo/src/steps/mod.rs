//! One module per step of the demo, in the order they run.

pub mod crawl;
pub mod data;
pub mod deploy;
pub mod fleet;
pub mod grants;
pub mod monitor;
pub mod organization;
pub mod report;
pub mod schedules;
