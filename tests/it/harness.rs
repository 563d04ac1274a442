//! The harness itself: when the emulator cannot start, the error names the fix.

use integration_tests::Emulator;

#[test]
fn missing_python_environment_names_make_setup() {
    let err = Emulator::start_with(std::path::Path::new("/nonexistent/.venv/bin/python"))
        .err()
        .expect("cannot start without Python");
    let text = format!("{err:#}");
    assert!(text.contains("run `make setup`"), "{text}");
}

#[test]
fn python_without_moto_names_make_setup() {
    // Any program that exits without printing the READY line stands in for a Python without moto.
    let err = Emulator::start_with(std::path::Path::new("/bin/false"))
        .err()
        .expect("no emulator");
    let text = format!("{err:#}");
    assert!(text.contains("make setup"), "{text}");
}
