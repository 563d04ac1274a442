//! Integration tests: the functions against the local AWS emulator, through the official AWS SDK for
//! Rust, and the real binaries through a local Lambda Runtime API. One test binary, a module per
//! area (build once, link once).

mod aws_setup_s3;
mod config_partitioner;
mod config_recorder;
mod event_binaries;
mod glue_column_remover;
mod harness;
mod org_data_sync;
mod quicksight_builder;
mod s3_cleanup;
mod support;
mod sync_monitor;
mod tagger;
mod tagger_binary;
