//! Version 1 of the versioned test guest.

strata_test_guest_versioned::guest!(b'1');
