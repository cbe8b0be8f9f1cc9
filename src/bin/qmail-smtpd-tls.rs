//! qmail-smtpd-tls: qmail-smtpd over TLS. Every line of TLS code lives in
//! this binary, so the plain qmail-smtpd started for each connection stays
//! as small and as quick to start as before.
//!
//! Two ways in:
//! - STARTTLS: qmail-smtpd execs it (`QMAILSMTPD_TLS=starttls`) when a
//!   client asks. It answers `220 ready for tls`, handshakes, and runs the
//!   session with no greeting; the client starts again with EHLO. Whatever
//!   the client pipelined after STARTTLS died with the old process's read
//!   buffer (the CVE-2011-0411 class of injection cannot happen).
//! - implicit TLS (SMTPS, port 465): qmail-smtpd with `SMTPS` set execs it
//!   at once, or tcpserver runs it directly: handshake, then `220` greeting.
//!
//! The certificate chain and the private key are both read from
//! control/servercert.pem, as the qmail TLS patch reads them. If they
//! cannot be used, a STARTTLS client gets `454` and the plain session goes
//! on (the reason goes to the log); an SMTPS client is disconnected.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::sync::Arc;

use qmail_smtpd::driver::{self, Transport};
use qmail_smtpd::io::{Client, SystemHost};
use qmail_smtpd::queue::Program;
use qmail_smtpd::server::{self, Fatal};
use qmail_smtpd::session::{Session, Setup};
use qmail_smtpd::{oom, reply, starttls};
use rustls::{ServerConfig, ServerConnection};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

const SERVERCERT: &str = "control/servercert.pem";

/// As in qmail-smtpd: out of memory is `421 out of memory (#4.3.0)` (while
/// the client still speaks plain SMTP) and exit 1, never an abort.
#[global_allocator]
static ALLOCATOR: oom::Allocator = oom::Allocator;

/// Reads the certificate chain and the key from one PEM file.
fn load_config(path: &str) -> Result<Arc<ServerConfig>, String> {
    let pem = std::fs::read(path).map_err(|e| format!("unable to read {path}: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path}: bad certificate: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path}: no certificate"));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| format!("{path}: no usable private key: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{path}: {e}"))?;
    Ok(Arc::new(config))
}

/// The client's fds as a byte stream for rustls, every read and write
/// bounded by timeoutsmtpd (the handshake included).
struct Raw<'a>(&'a Client);

impl Read for Raw<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Raw<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(bytes)?;
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The session's transport over TLS.
struct Tls<'a> {
    conn: ServerConnection,
    raw: Raw<'a>,
}

impl Transport for Tls<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        rustls::Stream::new(&mut self.conn, &mut self.raw).read(buf)
    }
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut stream = rustls::Stream::new(&mut self.conn, &mut self.raw);
        stream.write_all(bytes)?;
        stream.flush()
    }
    fn line_started(&mut self) {
        self.raw.0.line_started()
    }
}

impl Tls<'_> {
    /// Sends close_notify; errors are of no interest any more.
    fn close(&mut self) {
        self.conn.send_close_notify();
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.raw).is_err() {
                break;
            }
        }
    }
}

/// OpenSSL's name for a cipher suite, which the qmail TLS patch writes
/// into the Received header (`SSL_get_cipher`); rustls's own name for any
/// suite not in this list.
fn openssl_name(suite: rustls::CipherSuite) -> String {
    use rustls::CipherSuite as S;
    let name = match suite {
        S::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        S::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        S::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        other => {
            return other
                .as_str()
                .map_or_else(|| format!("{other:?}"), str::to_string);
        }
    };
    name.to_string()
}

/// A protocol version as OpenSSL writes it (`TLSv1.3`), for the log.
fn version_name(v: rustls::ProtocolVersion) -> String {
    use rustls::ProtocolVersion as V;
    match v {
        V::TLSv1_3 => "TLSv1.3".to_string(),
        V::TLSv1_2 => "TLSv1.2".to_string(),
        V::TLSv1_1 => "TLSv1.1".to_string(),
        V::TLSv1_0 => "TLSv1".to_string(),
        other => other
            .as_str()
            .map_or_else(|| format!("{other:?}"), str::to_string),
    }
}

/// Handshakes over the client's fds; returns the connection and its
/// cipher suite's name. Errors are logged; the caller exits.
fn handshake<'a>(config: Arc<ServerConfig>, client: &'a Client) -> Option<(Tls<'a>, Vec<u8>)> {
    let mut tls = Tls {
        conn: ServerConnection::new(config).ok()?,
        raw: Raw(client),
    };
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.raw) {
            // rustls has queued an alert for most failures: send it.
            let _ = tls.conn.write_tls(&mut tls.raw);
            log::info!("TLS handshake failed: {e}");
            return None;
        }
    }
    let cipher = tls
        .conn
        .negotiated_cipher_suite()
        .map(|s| openssl_name(s.suite()))?;
    let version = tls
        .conn
        .protocol_version()
        .map_or_else(String::new, version_name);
    log::info!("TLS started: {version} {cipher}");
    Some((tls, cipher.into_bytes()))
}

struct TlsFront {
    /// STARTTLS (else implicit TLS).
    starttls: bool,
}

/// The host inside TLS: STARTTLS is not offered there; should the session
/// ask anyway, it gets 454.
fn host() -> SystemHost {
    SystemHost {
        start_tls: |_| std::io::Error::other("STARTTLS inside TLS"),
    }
}

impl server::Front for TlsFront {
    /// SMTPS straight from tcpserver: the header comes before the
    /// handshake. (Exec'd by qmail-smtpd or qmail-smtpd-proxy, the header
    /// is read already and PROXYPROTOCOL gone.)
    fn proxied(&mut self, list: &[u8]) -> Result<(), Fatal> {
        server::read_proxy_header(list)
    }

    fn setup(&mut self, setup: &mut Setup) {
        setup.starttls = false;
    }

    /// After STARTTLS, qmail-smtpd has logged the connection already.
    fn logs_connection(&self) -> bool {
        !self.starttls
    }

    fn run(
        &mut self,
        session: &mut Session,
        client: &Client,
        queue: &mut Program,
    ) -> Result<i32, Fatal> {
        let config = match load_config(SERVERCERT) {
            Ok(c) => c,
            // An SMTPS client expects a handshake: it gets no plain reply.
            Err(e) if !self.starttls => {
                return Err(Fatal::silent(format!("TLS not available: {e}")));
            }
            Err(e) => {
                // Plain SMTP goes on, as if STARTTLS had not been offered.
                let helo = std::env::var_os(starttls::TLS_HELO_VAR).map(OsString::into_vec);
                session.set_helo_name(helo);
                session.starttls_failed(&format!("TLS not available: {e}"));
                return Ok(driver::run(session, &mut &*client, queue, &mut host()));
            }
        };
        if self.starttls && client.write_all(reply::READY_FOR_TLS).is_err() {
            return Ok(1);
        }
        oom::no_plain_reply();
        let Some((mut tls, cipher)) = handshake(config, client) else {
            return Ok(1);
        };
        session.tls_started(cipher);
        if !self.starttls {
            session.greet();
        }
        let code = driver::run(session, &mut tls, queue, &mut host());
        tls.close();
        Ok(code)
    }
}

fn main() {
    server::default_sigchld();
    let starttls = std::env::var_os(starttls::TLS_MODE_VAR).is_some_and(|v| v == "starttls");
    server::serve(&mut TlsFront { starttls })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_names_are_openssls() {
        assert_eq!(
            openssl_name(rustls::CipherSuite::TLS13_AES_256_GCM_SHA384),
            "TLS_AES_256_GCM_SHA384"
        );
        assert_eq!(
            openssl_name(rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
            "ECDHE-RSA-AES256-GCM-SHA384"
        );
        // Every suite this build can negotiate has an OpenSSL name.
        for s in rustls::crypto::ring::default_provider().cipher_suites {
            assert!(
                !openssl_name(s.suite()).starts_with("TLS13_"),
                "{:?}",
                s.suite()
            );
            assert!(
                !openssl_name(s.suite()).contains("_WITH_"),
                "{:?}",
                s.suite()
            );
        }
    }

    #[test]
    fn versions_are_named_as_openssl_names_them() {
        assert_eq!(version_name(rustls::ProtocolVersion::TLSv1_3), "TLSv1.3");
        assert_eq!(version_name(rustls::ProtocolVersion::TLSv1_2), "TLSv1.2");
    }

    #[test]
    fn garbage_is_no_certificate() {
        let dir = std::env::temp_dir().join(format!("tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("servercert.pem");
        std::fs::write(&p, "garbage\n").unwrap();
        let e = load_config(p.to_str().unwrap()).unwrap_err();
        assert!(e.contains("no certificate"), "{e}");
        let e = load_config(dir.join("missing").to_str().unwrap()).unwrap_err();
        assert!(e.contains("unable to read"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
