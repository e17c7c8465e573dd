//! Version 2 of the versioned test guest.

strata_test_guest_versioned::guest!(b'2');
