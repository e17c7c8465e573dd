//! A handler that grows its memory without bound on `misbehave` paths: the host's memory cap must stop it.

strata_test_guest_misbehaving::guest!(|req| {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![req.path.len() as u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
});
