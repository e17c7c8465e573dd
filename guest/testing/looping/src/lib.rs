//! A handler that never returns on `misbehave` paths: the host's epoch deadline must stop it and fail only
//! its request.

strata_test_guest_misbehaving::guest!(|req| {
    let mut spins = 0u64;
    loop {
        spins = std::hint::black_box(spins.wrapping_add(req.path.len() as u64));
    }
});
