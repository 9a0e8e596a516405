//! `phone_number`: the written forms of telephone numbers, and nothing else.
//!
//! The regex finds a run of digit groups (with `+`, parentheses, spaces, dots or dashes); each
//! reading of the run (see `groups`) is a phone number when it has one of these forms:
//!
//! 1. **International**: `+` (or `00`) and a country code, then the national number; 7-15
//!    digits, compact (`+14155552671`) or in groups separated by single spaces, dashes or dots,
//!    with at most one group in parentheses (`+1 (415) 555-2671`, `+44 (0)20 7946 0958`, where the
//!    `(0)` trunk digit does not count). For the most common country codes the national number
//!    has that country's length (`+1`: 10 digits, `+44`: 7-10, `+33`: 9, ...), so a neighbouring
//!    number is not swallowed.
//! 2. **North American**: `(415) 555-2671`, `(415)555-2671`, `415-555-2671`, `415.555.2671`,
//!    `415 555 2671`, optionally after `1-`, `1 ` or `1.`; area code and exchange start with 2-9;
//!    the two separators of the unparenthesised forms are the same.
//! 3. **National with a trunk `0`**: 9-11 digits starting `0` then 1-9, separated by one kind
//!    of separator (space, dot or dash), as an area code of 2-5 digits (which may be in
//!    parentheses: `(02) 9876 5432`) followed by one group of 3-8 digits (`030 12345678`,
//!    `07700 900123`), two groups of 3-4 (`020 7946 0958`, `0161 496 0000`), or pairs of digits
//!    with at most one group of three before them (`06 12 34 56 78`, `01.23.45.67.89`,
//!    `0470 12 34 56`, `0532 123 45 67`, `02 123 45 67`).
//!
//! Never a phone number: a bare digit run (`4155552671`, a timestamp), other group shapes
//! (`1234 5678 9012`, `123-45-6789`, dotted quads, dates), a run glued to a letter, digit,
//! decimal point or hexadecimal identifier, or a run inside a UUID.
//!
//! # Invariants
//! - An accepted value is a reading of the candidate's groups (`groups::first_span`): 7-17
//!   digits (a `00` prefix and a `(0)` trunk digit included), at most `MAX_READ` (34) bytes, in one
//!   of the three forms, not glued to its neighbours nor inside a UUID.
//! - The shortcuts the detector declares never skip a value: every accepted value holds at least
//!   7 digits (`min_digits`), and every form has a `+`, a `(`, a digit group starting with `0` or
//!   a group of exactly three digits, which is all `run_ok` asks of a run.
//! - A candidate the regex cut resumes at the first reading start it could not decide, so no
//!   reading that runs past the cut is refused unseen.

use super::groups::{self, Group, Groups};
use super::{boundary, Verdict};

/// Candidates in the three written forms' shapes (the validator then reads every way): `+` or
/// `00` and groups; a North American number; a trunk-`0` area code and groups.
pub(crate) const PATTERN: &str = concat!(
    r"(?:\+|00)[1-9][0-9]{0,3}(?:[ .\-]?\(?[0-9]{1,10}\)?){1,8}",
    r"|(?:1[ .\-])?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .\-])[2-9][0-9]{2}[ .\-][0-9]{4}",
    r"|(?:\(0[1-9][0-9]{0,3}\) ?|0[1-9][0-9]{0,3}[ .\-])[0-9]{2,8}(?:[ .\-][0-9]{2,8}){0,4}"
);

/// The longest reading in bytes (15 digits, separators, `+`, parentheses).
const MAX_READ: usize = 34;

/// National number lengths for country codes, where known.
fn national_len(cc: u32) -> (usize, usize) {
    match cc {
        1 | 7 | 30 | 52 | 58 | 90 | 91 | 98 => (10, 10),
        20 => (8, 10),
        27 | 31 | 33 | 34 | 40 | 41 | 48 | 56 | 61 | 93 | 94 => (9, 9),
        32 | 36 | 51 | 66 => (8, 9),
        39 => (6, 11),
        43 => (4, 13),
        44 => (7, 10),
        45 | 47 | 65 => (8, 8),
        46 => (7, 10),
        49 => (5, 13),
        53 => (6, 8),
        54 | 55 => (10, 11),
        57 | 60 | 63 | 64 | 82 => (8, 10),
        62 | 86 => (7, 12),
        81 | 84 | 92 => (9, 10),
        95 => (7, 10),
        _ => (4, 13),
    }
}

/// The country code at the start of `d` (E.164 codes are prefix-free) and its length.
fn country_code(d: &[u8]) -> Option<(u32, usize)> {
    let n = |k: usize| d.iter().take(k).fold(0u32, |a, &b| a * 10 + u32::from(b - b'0'));
    match d.first()? {
        b'0' => None,
        b'1' | b'7' => Some((n(1), 1)),
        _ if d.len() < 2 => None,
        _ => {
            let two = n(2);
            let two_digit = matches!(two, 20 | 27 | 30..=34 | 36 | 39 | 40 | 41 | 43..=49 | 51..=58 | 60..=66 | 81 | 82 | 84 | 86 | 90..=95 | 98);
            if two_digit {
                Some((two, 2))
            } else if d.len() >= 3 {
                Some((n(3), 3))
            } else {
                None
            }
        }
    }
}

/// Every separator between the groups is a single space, dash or dot, or nothing where a
/// parenthesis stands between the groups.
fn plain_seps(hay: &[u8], gs: &Groups, i: usize, j: usize) -> bool {
    (i..j).all(|k| match gs.sep(hay, k) {
        [] => gs.get(k).closed() || gs.get(k + 1).paren,
        [b' ' | b'-' | b'.'] => true,
        _ => false,
    })
}

/// What [`international`] found for groups `i..=j`.
#[derive(PartialEq, Eq)]
enum Intl {
    Yes,
    No,
    /// No reading from group `i` is form 1, however many groups it takes: its first group is in
    /// parentheses, or its national number starts with `0` (the digits of a longer reading only
    /// append to those of a shorter one).
    NoneFromHere,
}

/// Groups `i..=j` are form 1: `+` or `00`, a country code, 7-15 digits (a `(0)` trunk digit not
/// counted), and a national number of the country's length where `national_len` knows it.
fn international(hay: &[u8], all: &[Group], gs: &Groups, i: usize, j: usize) -> Intl {
    let g = &all[i..=j];
    if g[0].paren {
        return Intl::NoneFromHere;
    }
    if g.iter().skip(1).any(|x| x.plus) || g.iter().filter(|x| x.paren).count() > 1 {
        return Intl::No;
    }
    if g.iter().any(|x| x.paren && !x.closed()) {
        return Intl::No;
    }
    // the digits, each marked when it is a trunk `0` written in parentheses for national callers
    // (`+44 (0)20 …`): it is not part of the number
    let mut buf = [0u8; 18];
    let mut trunk = [false; 18];
    let mut n = 0;
    for x in g {
        let is_trunk = x.paren && &hay[x.start..x.end] == b"0";
        for &c in &hay[x.start..x.end] {
            if n == buf.len() {
                return Intl::No;
            }
            buf[n] = c;
            trunk[n] = is_trunk;
            n += 1;
        }
    }
    // `00` instead of `+`
    let skip = if g[0].plus {
        0
    } else if buf[..n].starts_with(b"00") {
        2
    } else {
        return Intl::No;
    };
    let (d, t) = (&buf[skip..n], &trunk[skip..n]);
    let total = d.len() - t.iter().filter(|&&x| x).count();
    if !(7..=15).contains(&total) {
        return Intl::No;
    }
    let Some((cc, cc_len)) = country_code(d) else {
        return Intl::No;
    };
    // when grouped, the country code stands alone or starts the first group (`+4420 …`); after
    // `00` the first group is `00` or `00` and the country code exactly (`0044 20 …`)
    if g.len() > 1 {
        let ok = if g[0].plus {
            g[0].digits() <= 4
        } else {
            g[0].digits() == 2 || g[0].digits() == 2 + cc_len
        };
        if !ok {
            return Intl::No;
        }
    }
    // the national number: never starting with 0 (that is the trunk prefix), of the country's length
    let mut national = d[cc_len..]
        .iter()
        .zip(&t[cc_len..])
        .filter(|(_, &tr)| !tr)
        .map(|(&c, _)| c);
    match national.next() {
        None => return Intl::No,
        Some(b'0') => return Intl::NoneFromHere,
        Some(_) => {}
    }
    let (lo, hi) = national_len(cc);
    if !(lo..=hi).contains(&(total - cc_len)) {
        return Intl::No;
    }
    if cc == 1 {
        // North American numbering: area code and exchange start with 2-9
        let nat = &d[1..];
        if t.iter().any(|&x| x) || nat.len() != 10 || nat[0] < b'2' || nat[3] < b'2' {
            return Intl::No;
        }
    }
    if g.iter().skip(1).all(|x| x.digits() <= 10) && plain_seps(hay, gs, i, j) {
        Intl::Yes
    } else {
        Intl::No
    }
}

/// Groups `i..=j` are form 2: an optional `1`, then 3-3-4 digits, area code and exchange from 2.
fn nanp(hay: &[u8], all: &[Group], gs: &Groups, i: usize, j: usize) -> bool {
    let mut k = i;
    let g = all;
    // optional leading "1" and a separator
    if g[k].digits() == 1 && &hay[g[k].start..g[k].end] == b"1" && !g[k].paren && k < j {
        if !matches!(gs.sep(hay, k), [b' ' | b'-' | b'.']) {
            return false;
        }
        k += 1;
    }
    if j != k + 2 || g[k].plus || g[k + 1].paren || g[k + 2].paren {
        return false;
    }
    let lead_ok = |x: &Group| hay[x.start] >= b'2';
    let (a, b, c) = (g[k], g[k + 1], g[k + 2]);
    if a.digits() != 3 || b.digits() != 3 || c.digits() != 4 || !lead_ok(&a) || !lead_ok(&b) {
        return false;
    }
    let (s1, s2) = (gs.sep(hay, k), gs.sep(hay, k + 1));
    if a.paren {
        a.closed() && matches!(s1, [] | [b' ']) && matches!(s2, [b'-' | b' ' | b'.'])
    } else {
        matches!(s1, [b'-' | b' ' | b'.']) && s1 == s2
    }
}

/// Groups `i..=j` are form 3: a trunk-`0` area code and 9-11 digits in one of the national shapes,
/// with one kind of separator.
fn trunk(hay: &[u8], all: &[Group], gs: &Groups, i: usize, j: usize) -> bool {
    let g = &all[i..=j];
    if g.len() < 2 || g[0].plus || g.iter().skip(1).any(|x| x.paren) || (g[0].paren && !g[0].closed()) {
        return false;
    }
    let first = &hay[g[0].start..g[0].end];
    if !(2..=5).contains(&first.len()) || first[0] != b'0' || first[1] == b'0' {
        return false;
    }
    // the shapes national numbers are written in: area code and one or two groups of at least
    // three digits (`020 7946 0958`, `030 12345678`, `07700 900123`), or pairs (`06 12 34 56 78`,
    // and `0532 123 45 67`)
    let sizes = |k: usize| g[k].digits();
    let shape = match g.len() {
        2 => (3..=8).contains(&sizes(1)),
        3 if (3..=4).contains(&sizes(1)) && (3..=4).contains(&sizes(2)) => true,
        // pairs after the area code, with at most one group of three first
        n => {
            let first_pair = if sizes(1) == 3 { 2 } else { 1 };
            sizes(0) <= 4 && n - first_pair >= 2 && (first_pair..n).all(|k| sizes(k) == 2)
        }
    };
    if !shape {
        return false;
    }
    let total: usize = g.iter().map(Group::digits).sum();
    if !(9..=11).contains(&total) {
        return false;
    }
    // one kind of separator (after a parenthesised first group, nothing or a space may come first)
    let mut kind: Option<u8> = None;
    for k in i..j {
        let s = gs.sep(hay, k);
        let b = match s {
            [] if k == i && g[0].paren => continue,
            [b] if matches!(b, b' ' | b'-' | b'.') => *b,
            _ => return false,
        };
        if *kind.get_or_insert(b) != b {
            return false;
        }
    }
    true
}

/// Whether a run of the regex's bytes can hold a phone number: every form has a `+` (international),
/// a `(`, a digit group starting with `0` (`00` international, trunk) or a group of exactly three
/// digits (the North American area code). Dates (`2024-11-30`), versions and bare digit runs have none.
pub(crate) fn run_ok(run: &[u8]) -> bool {
    // one pass: `len` digits in the current group
    let mut len = 0usize;
    for &b in run {
        if b.wrapping_sub(b'0') < 10 {
            if len == 0 && b == b'0' {
                return true;
            }
            len += 1;
        } else {
            if len == 3 || b == b'+' || b == b'(' {
                return true;
            }
            len = 0;
        }
    }
    len == 3
}

pub(crate) fn validate(hay: &[u8], s: usize, e: usize) -> Verdict {
    let gs = Groups::parse(hay, s, e);
    // quick no: fewer than 7 digits from the first group a reading may start at
    let first_ok = (0..gs.n).find(|&k| !boundary::glued_before(hay, gs.get(k).lead));
    let digits_left: usize = first_ok.map_or(0, |k| (k..gs.n).map(|x| gs.get(x).digits()).sum());
    let cut = groups::cut_at(hay, e, b" .-()");
    if digits_left < 7 {
        // when the digits go on after the candidate, a reading may still start in it
        let resume = if cut { first_ok.map_or(e, |k| gs.get(k).lead) } else { e };
        return Verdict::Reject { resume };
    }
    // the regex's candidates hold at most 9 digit groups (the country code's and 8 more), so 12
    // is room to spare
    let mut all = [Group::default(); 12];
    let n = gs.n.min(all.len());
    for (k, g) in all.iter_mut().enumerate().take(n) {
        *g = gs.get(k);
    }
    let all = &all[..n];
    let (starts, resume) = gs.safe_starts(e, cut, MAX_READ);
    // each form's first group: `+` or `00` (international), a leading `0` (trunk), three digits
    // or a lone `1` (North American)
    let start_ok = |i: usize| {
        let g = all[i];
        let first = &hay[g.start..g.end];
        (g.plus || first[0] == b'0' || first.len() == 3 || first == b"1") && !boundary::glued_before(hay, g.lead)
    };
    // starts from which no reading is form 1 (readings from a start come longest first)
    let mut intl_none = [false; 12];
    groups::first_span(&gs, starts.min(n), resume, e, MAX_READ, start_ok, |i, j| {
        if j >= n {
            return false;
        }
        let (a, b) = (all[i].lead, all[j].trail);
        let digits: usize = all[i..=j].iter().map(Group::digits).sum();
        if !(7..=17).contains(&digits) || b - a > MAX_READ {
            return false;
        }
        // each form only where its first group allows it: `+` or `00` (international), three
        // groups or a `1` and three (North American), a leading `0` (trunk)
        let first = &hay[all[i].start..all[i].end];
        let intl = (all[i].plus || first.starts_with(b"00"))
            && !intl_none[i]
            && match international(hay, all, &gs, i, j) {
                Intl::Yes => true,
                Intl::No => false,
                Intl::NoneFromHere => {
                    intl_none[i] = true;
                    false
                }
            };
        let form = intl
            || (matches!(j - i, 2 | 3) && nanp(hay, all, &gs, i, j))
            || (first.first() == Some(&b'0') && trunk(hay, all, &gs, i, j));
        form && !boundary::glued_after(hay, b) && !boundary::in_uuid(hay, a, b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(t: &str) -> Option<&str> {
        match validate(t.as_bytes(), 0, t.len()) {
            Verdict::Accept(a, b) | Verdict::AcceptThen(a, b, _) => Some(&t[a..b]),
            Verdict::Reject { .. } => None,
        }
    }

    #[test]
    fn listed_forms_are_phone_numbers() {
        for p in [
            "+14155552671",
            "+1 415 555 2671",
            "+1 (415) 555-2671",
            "+44 20 7946 0958",
            "+44 (0)20 7946 0958",
            "+33 6 12 34 56 78",
            "+49 30 901820",
            "0044 20 7946 0958",
            "(415) 555-2671",
            "(415)555-2671",
            "415-555-2671",
            "415.555.2671",
            "415 555 2671",
            "1-415-555-2671",
            "020 7946 0958",
            "0161 496 0000",
            "07700 900123",
            "06 12 34 56 78",
            "01.23.45.67.89",
            "(02) 9876 5432",
            "030 12345678",
        ] {
            assert_eq!(found(p), Some(p), "{p}");
        }
    }

    #[test]
    fn other_shapes_are_not() {
        for n in [
            "1234 5678 9012",
            "4155552671",
            "123-45-6789",
            "192.168.100.200",
            "2024-11-30",
            "3714 4963 5398 434",
            "9661 1020 3456 79",
            "415-555.2671",
            "1700000000000",
        ] {
            assert_eq!(found(n), None, "{n}");
        }
    }

    /// `run_ok` in one pass says what its definition says: a `+` or `(`, or a maximal digit group
    /// that starts with `0` or has exactly three digits.
    #[test]
    fn run_ok_is_its_definition() {
        use proptest::prelude::*;
        let reference = |run: &[u8]| {
            run.iter().any(|&b| b == b'+' || b == b'(')
                || run
                    .split(|b| !b.is_ascii_digit())
                    .any(|g| g.first() == Some(&b'0') || g.len() == 3)
        };
        let bytes = proptest::collection::vec(proptest::sample::select(b"0123456789 -.()+x".to_vec()), 0..24);
        proptest!(ProptestConfig::with_cases(2000), |(run in bytes)| {
            prop_assert_eq!(run_ok(&run), reference(&run), "{:?}", String::from_utf8_lossy(&run));
        });
    }

    #[test]
    fn a_neighbouring_number_is_not_swallowed() {
        assert_eq!(found("20241 440-600-5124"), Some("440-600-5124"));
        assert_eq!(found("+1 415 555 2671 2024"), Some("+1 415 555 2671"));
    }
}
