//! Any `page`/`perPage`: bounded paging whose offset does not overflow.
#![no_main]
use libfuzzer_sys::fuzz_target;
use stummel::kippenstummel::validation::{Paging, Violations};

fuzz_target!(|input: (Option<&str>, Option<&str>)| {
    let mut violations = Violations::default();
    let paging = Paging::parse(input.0, input.1, &mut violations);
    assert!((1..=50).contains(&paging.per_page));
    let _ = paging.offset();
});
