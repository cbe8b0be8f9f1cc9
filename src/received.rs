//! The `Received:` header qmail-smtpd writes before every message (SPEC
//! section 8), and its RFC 822 date.

/// RFC 5322's line limit, without the line end.
const MAX_LINE: usize = 998;

/// What the header says about the connection. Every field is as found in the
/// environment (or the HELO argument) and is made safe when written.
#[derive(Debug, Clone, Default)]
pub struct Origin<'a> {
    pub remote_host: &'a [u8],
    /// The HELO/EHLO name, only when it differs from `remote_host`.
    pub helo: Option<&'a [u8]>,
    pub remote_info: Option<&'a [u8]>,
    pub remote_ip: &'a [u8],
    pub local: &'a [u8],
    /// The TLS cipher suite, when the message came over TLS: the protocol
    /// then reads `(CIPHER encrypted) SMTP`, as the qmail TLS patch writes.
    pub cipher: Option<&'a [u8]>,
    /// The MAIL declared SMTPUTF8: the protocol gets RFC 6531's `UTF8`
    /// form (`UTF8SMTP`, `UTF8SMTPA`, ...; section 3.7.3).
    pub smtputf8: bool,
    /// The client authenticated (SMTP AUTH): the protocol then reads as
    /// sagredo's qmail writes it, `ESMTPA`, or over TLS `ESMTPSA (CIPHER
    /// encrypted, authenticated)`.
    pub auth: bool,
}

/// The `with` protocol of the header, composed here only: qmail's `SMTP`
/// (for EHLO too), the TLS patch's `(CIPHER encrypted) SMTP`, sagredo's
/// `ESMTPA` and `ESMTPSA (CIPHER encrypted, authenticated)`; under
/// SMTPUTF8 the word is RFC 6531's (`UTF8SMTP`, `UTF8SMTPA`,
/// `UTF8SMTPSA`: the `E` dropped and `UTF8` put first, as sagredo's does).
pub fn protocol(out: &mut Vec<u8>, o: &Origin) {
    let word = |out: &mut Vec<u8>, word: &[u8]| {
        if o.smtputf8 {
            out.extend_from_slice(b"UTF8");
            out.extend_from_slice(word.strip_prefix(b"E").unwrap_or(word));
        } else {
            out.extend_from_slice(word);
        }
    };
    // The cipher is our own text, not the client's: written as is (TLS 1.3
    // names have underscores), as qmail writes its protocol string.
    match (o.cipher, o.auth) {
        (None, false) => word(out, b"SMTP"),
        (None, true) => word(out, b"ESMTPA"),
        (Some(cipher), false) => {
            out.push(b'(');
            out.extend_from_slice(cipher);
            out.extend_from_slice(b" encrypted) ");
            word(out, b"SMTP");
        }
        (Some(cipher), true) => {
            word(out, b"ESMTPSA");
            out.extend_from_slice(b" (");
            out.extend_from_slice(cipher);
            out.extend_from_slice(b" encrypted, authenticated)");
        }
    }
}

/// qmail's `issafe` (plus `[` and `]`, kept for IP literals as notqmail
/// does): anything else becomes `?`, so a client cannot forge header syntax.
fn safe(ch: u8) -> u8 {
    match ch {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => ch,
        b'.' | b'@' | b'%' | b'+' | b'/' | b'=' | b':' | b'-' | b'[' | b']' => ch,
        _ => b'?',
    }
}

fn put_safe(out: &mut Vec<u8>, field: &[u8]) {
    out.extend(field.iter().map(|&c| safe(c)));
}

/// Shortens fields, client-controlled ones first (HELO, then ident, then the
/// DNS name, then the IP), until `fixed` plus the fields fit in `MAX_LINE`.
/// Lines that already fit are left untouched, so short sessions match
/// netqmail byte for byte.
fn fit<const N: usize>(fixed: usize, mut fields: [&[u8]; N]) -> [&[u8]; N] {
    let mut excess =
        (fixed + fields.iter().map(|f| f.len()).sum::<usize>()).saturating_sub(MAX_LINE);
    for f in fields.iter_mut() {
        let cut = excess.min(f.len());
        *f = &f[..f.len() - cut];
        excess -= cut;
    }
    fields
}

/// Writes the two-line header, LF-terminated, for a message received at
/// `now` (seconds since the epoch).
pub fn header(out: &mut Vec<u8>, o: &Origin, now: u64) {
    const FROM: &[u8] = b"Received: from ";
    const HELO: &[u8] = b" (HELO ";
    let fixed =
        FROM.len() + o.helo.map_or(0, |_| HELO.len() + 1) + 2 + o.remote_info.map_or(0, |_| 1) + 1;
    let [helo, info, host, ip] = fit(
        fixed,
        [
            o.helo.unwrap_or(b""),
            o.remote_info.unwrap_or(b""),
            o.remote_host,
            o.remote_ip,
        ],
    );
    out.extend_from_slice(FROM);
    put_safe(out, host);
    if o.helo.is_some() {
        out.extend_from_slice(HELO);
        put_safe(out, helo);
        out.push(b')');
    }
    out.extend_from_slice(b" (");
    if o.remote_info.is_some() {
        put_safe(out, info);
        out.push(b'@');
    }
    put_safe(out, ip);
    out.extend_from_slice(b")\n  by ");
    let mut date = Vec::with_capacity(32);
    date822(&mut date, now);
    let mut proto = Vec::with_capacity(64);
    protocol(&mut proto, o);
    let [local] = fit(
        b"  by ".len() + b" with ; ".len() + proto.len() + date.len(),
        [o.local],
    );
    put_safe(out, local);
    out.extend_from_slice(b" with ");
    out.extend_from_slice(&proto);
    out.extend_from_slice(b"; ");
    out.extend_from_slice(&date);
    out.push(b'\n');
}

/// qmail's `date822fmt`: `29 Nov 2026 20:33:46 -0000`, UTC, day without a
/// leading zero.
pub fn date822(out: &mut Vec<u8>, now: u64) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day) = civil_from_days((now / 86400) as i64);
    let secs = now % 86400;
    let text = format!(
        "{day} {} {year} {:02}:{:02}:{:02} -0000",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    out.extend_from_slice(text.as_bytes());
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(now: u64) -> String {
        let mut v = Vec::new();
        date822(&mut v, now);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn dates() {
        assert_eq!(date(0), "1 Jan 1970 00:00:00 -0000");
        assert_eq!(date(1_795_984_426), "29 Nov 2026 20:33:46 -0000");
        assert_eq!(date(951_782_400), "29 Feb 2000 00:00:00 -0000");
        assert_eq!(date(4_102_444_799), "31 Dec 2099 23:59:59 -0000");
    }

    #[test]
    fn header_fields_and_safety() {
        let mut v = Vec::new();
        let o = Origin {
            remote_host: b"client.example",
            helo: Some(b"evil\r\nX: y [1.2.3.4]"),
            remote_info: Some(b"id ent"),
            remote_ip: b"192.0.2.1",
            local: b"mx.example",
            cipher: None,
            smtputf8: false,
            auth: false,
        };
        header(&mut v, &o, 1_795_984_426);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "Received: from client.example (HELO evil??X:?y?[1.2.3.4]) (id?ent@192.0.2.1)\n  by mx.example with SMTP; 29 Nov 2026 20:33:46 -0000\n"
        );
        let mut v = Vec::new();
        let o = Origin {
            remote_host: b"unknown",
            remote_ip: b"unknown",
            local: b"unknown",
            ..Default::default()
        };
        header(&mut v, &o, 0);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "Received: from unknown (unknown)\n  by unknown with SMTP; 1 Jan 1970 00:00:00 -0000\n"
        );
    }

    #[test]
    fn over_tls_the_patch_form() {
        let mut v = Vec::new();
        let o = Origin {
            remote_host: b"unknown",
            remote_ip: b"192.0.2.1",
            local: b"mx.example",
            cipher: Some(b"ECDHE-RSA-AES256-GCM-SHA384"),
            ..Default::default()
        };
        header(&mut v, &o, 0);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "Received: from unknown (192.0.2.1)\n  by mx.example with (ECDHE-RSA-AES256-GCM-SHA384 encrypted) SMTP; 1 Jan 1970 00:00:00 -0000\n"
        );
        let local = vec![b'l'; 5000];
        let o = Origin {
            remote_host: b"h",
            remote_ip: b"1",
            local: &local,
            cipher: Some(b"TLS_AES_128_GCM_SHA256"),
            ..Default::default()
        };
        let mut v = Vec::new();
        header(&mut v, &o, 0);
        let second = v.split(|&b| b == b'\n').nth(1).unwrap();
        assert_eq!(second.len(), 998);
    }

    #[test]
    fn under_smtputf8_the_protocol_is_utf8smtp() {
        let o = Origin {
            remote_host: b"unknown",
            remote_ip: b"2001:db8::7",
            local: b"mx.example",
            smtputf8: true,
            ..Default::default()
        };
        let mut v = Vec::new();
        header(&mut v, &o, 0);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "Received: from unknown (2001:db8::7)\n  by mx.example with UTF8SMTP; 1 Jan 1970 00:00:00 -0000\n"
        );
        let o = Origin {
            cipher: Some(b"TLS_AES_128_GCM_SHA256"),
            ..o
        };
        let mut v = Vec::new();
        header(&mut v, &o, 0);
        assert!(v.ends_with(
            b"with (TLS_AES_128_GCM_SHA256 encrypted) UTF8SMTP; 1 Jan 1970 00:00:00 -0000\n"
        ));
        // The line limit counts the longer word.
        let local = vec![b'l'; 5000];
        let o = Origin { local: &local, ..o };
        let mut v = Vec::new();
        header(&mut v, &o, 0);
        assert_eq!(v.split(|&b| b == b'\n').nth(1).unwrap().len(), 998);
    }

    #[test]
    fn authenticated_as_sagredo_writes_it() {
        let o = Origin {
            remote_host: b"unknown",
            remote_info: Some(b"alice"),
            remote_ip: b"192.0.2.1",
            local: b"mx.example",
            auth: true,
            ..Default::default()
        };
        let mut v = Vec::new();
        header(&mut v, &o, 0);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "Received: from unknown (alice@192.0.2.1)\n  by mx.example with ESMTPA; 1 Jan 1970 00:00:00 -0000\n"
        );
        let o = Origin {
            cipher: Some(b"TLS_AES_256_GCM_SHA384"),
            ..o
        };
        let mut v = Vec::new();
        header(&mut v, &o, 0);
        assert!(v.ends_with(
            b"with ESMTPSA (TLS_AES_256_GCM_SHA384 encrypted, authenticated); 1 Jan 1970 00:00:00 -0000\n"
        ));
    }

    #[test]
    fn authenticated_under_smtputf8_is_rfc_6531s_word() {
        let mut o = Origin {
            remote_host: b"h",
            remote_ip: b"192.0.2.1",
            local: b"mx.example",
            auth: true,
            smtputf8: true,
            ..Default::default()
        };
        let with = |o: &Origin| {
            let mut v = Vec::new();
            protocol(&mut v, o);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(with(&o), "UTF8SMTPA");
        o.cipher = Some(b"TLS_AES_256_GCM_SHA384");
        assert_eq!(
            with(&o),
            "UTF8SMTPSA (TLS_AES_256_GCM_SHA384 encrypted, authenticated)"
        );
        o.auth = false;
        assert_eq!(with(&o), "(TLS_AES_256_GCM_SHA384 encrypted) UTF8SMTP");
        o.smtputf8 = false;
        assert_eq!(with(&o), "(TLS_AES_256_GCM_SHA384 encrypted) SMTP");
        o.cipher = None;
        assert_eq!(with(&o), "SMTP");
    }

    #[test]
    fn long_fields_are_cut_to_998() {
        let helo = vec![b'h'; 5000];
        let local = vec![b'l'; 5000];
        let o = Origin {
            remote_host: b"host",
            helo: Some(&helo),
            remote_ip: b"1.2.3.4",
            local: &local,
            ..Default::default()
        };
        let mut v = Vec::new();
        header(&mut v, &o, 0);
        let lines: Vec<&[u8]> = v.split(|&b| b == b'\n').collect();
        assert_eq!(lines[0].len(), 998);
        assert_eq!(lines[1].len(), 998);
        assert!(lines[0].ends_with(b"h) (1.2.3.4)"));
        // Just at the limit nothing is cut.
        let helo = vec![b'h'; 998 - "Received: from host (HELO ) (1.2.3.4)".len()];
        let o = Origin {
            remote_host: b"host",
            helo: Some(&helo),
            remote_ip: b"1.2.3.4",
            local: b"l",
            ..Default::default()
        };
        let mut v = Vec::new();
        header(&mut v, &o, 0);
        assert_eq!(v.iter().position(|&b| b == b'\n'), Some(998));
    }
}
