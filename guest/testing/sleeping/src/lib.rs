//! A handler that sleeps through WASI clocks on `misbehave` paths, using no CPU: the epoch (CPU) deadline
//! never fires, so only the host's wall-clock deadline can free its instance slot.

strata_test_guest_misbehaving::guest!(|_| {
    // Far past any deadline a test sets.
    std::thread::sleep(std::time::Duration::from_secs(60));
    strata_test_guest_misbehaving::fine()
});
