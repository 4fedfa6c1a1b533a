//! The server name (SNI) a TLS client asks for in its first message. The egress
//! proxy reads it from a CONNECT tunnel's first bytes and refuses a tunnel whose
//! TLS names another host than the one that was vetted: one allowed name on a
//! shared CDN address must not open every site behind that address.

/// What the first bytes of a tunnel say.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstBytes {
    /// More bytes are needed to tell.
    Incomplete,
    /// Not a TLS handshake (plain HTTP through the tunnel, SSH, …).
    NotTls,
    /// A ClientHello without a server name.
    NoName,
    Name(String),
    /// TLS, but not a ClientHello that can be read.
    Malformed,
}

/// The most bytes read before deciding: a ClientHello split over records
/// (post-quantum key shares make them large) is put back together up to this.
pub const MAX_HELLO_BYTES: usize = 64 * 1024;

/// Reads the ClientHello at the start of `bytes`, across as many handshake
/// records as it spans.
pub fn peek(bytes: &[u8]) -> FirstBytes {
    let Some(&first) = bytes.first() else { return FirstBytes::Incomplete };
    // A TLS record of type handshake (22).
    if first != 0x16 {
        return FirstBytes::NotTls;
    }
    let mut handshake = Vec::new();
    let mut rest = bytes;
    loop {
        if rest.len() < 5 {
            return FirstBytes::Incomplete;
        }
        if rest[0] != 0x16 {
            return FirstBytes::Malformed;
        }
        let length = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if rest.len() < 5 + length {
            return FirstBytes::Incomplete;
        }
        handshake.extend_from_slice(&rest[5..5 + length]);
        rest = &rest[5 + length..];
        if handshake.len() >= 4 {
            let needed =
                4 + (usize::from(handshake[1]) << 16 | usize::from(handshake[2]) << 8 | usize::from(handshake[3]));
            if needed > MAX_HELLO_BYTES {
                return FirstBytes::Malformed;
            }
            if handshake.len() >= needed {
                return server_name(&handshake[..needed]).unwrap_or(FirstBytes::Malformed);
            }
        }
    }
}

/// The server name of a ClientHello handshake message; `None` if malformed.
fn server_name(message: &[u8]) -> Option<FirstBytes> {
    let mut reader = Reader(message);
    if reader.u8()? != 1 {
        return None; // not a ClientHello
    }
    let length = reader.u24()?;
    let body = reader.take(length)?;
    let mut hello = Reader(body);
    hello.take(2 + 32)?; // version, random
    let session = hello.u8()?;
    hello.take(usize::from(session))?;
    let suites = hello.u16()?;
    hello.take(usize::from(suites))?;
    let compression = hello.u8()?;
    hello.take(usize::from(compression))?;
    if hello.0.is_empty() {
        return Some(FirstBytes::NoName);
    }
    let extensions_length = hello.u16()?;
    let mut extensions = Reader(hello.take(usize::from(extensions_length))?);
    while !extensions.0.is_empty() {
        let (kind, length) = (extensions.u16()?, extensions.u16()?);
        let data = extensions.take(usize::from(length))?;
        if kind != 0 {
            continue;
        }
        let mut list = Reader(data);
        let list_length = list.u16()?;
        let mut names = Reader(list.take(usize::from(list_length))?);
        while !names.0.is_empty() {
            let (name_type, length) = (names.u8()?, names.u16()?);
            let name = names.take(usize::from(length))?;
            if name_type == 0 {
                return Some(FirstBytes::Name(String::from_utf8_lossy(name).to_ascii_lowercase()));
            }
        }
    }
    Some(FirstBytes::NoName)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(taken)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Option<usize> {
        let b = self.take(3)?;
        Some(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn with_length(prefix: &[u8], body: &[u8], width: usize) -> Vec<u8> {
        let mut out = prefix.to_vec();
        out.extend_from_slice(&(body.len() as u32).to_be_bytes()[4 - width..]);
        out.extend_from_slice(body);
        out
    }

    /// A minimal TLS 1.2-style ClientHello record, with a server name if given.
    pub(crate) fn client_hello(name: Option<&str>) -> Vec<u8> {
        let mut hello = vec![3, 3];
        hello.extend_from_slice(&[7; 32]);
        hello.push(0); // no session id
        hello.extend_from_slice(&with_length(&[], &[0x13, 0x01], 2));
        hello.extend_from_slice(&[1, 0]); // one compression method: none
        let mut extensions = Vec::new();
        // An extension before the name (supported groups).
        extensions.extend_from_slice(&with_length(&[0, 10], &with_length(&[], &[0, 29], 2), 2));
        if let Some(name) = name {
            let entry = with_length(&[0], name.as_bytes(), 2);
            extensions.extend_from_slice(&with_length(&[0, 0], &with_length(&[], &entry, 2), 2));
        }
        hello.extend_from_slice(&with_length(&[], &extensions, 2));
        let handshake = with_length(&[1], &hello, 3);
        with_length(&[0x16, 3, 1], &handshake, 2)
    }

    #[test]
    fn the_server_name_is_read_from_a_client_hello() {
        let hello = client_hello(Some("PyPI.org"));
        assert_eq!(peek(&hello), FirstBytes::Name("pypi.org".into()));
        assert_eq!(peek(&client_hello(None)), FirstBytes::NoName);
        for cut in [0, 3, 10, hello.len() - 1] {
            assert_eq!(peek(&hello[..cut]), FirstBytes::Incomplete, "{cut} bytes");
        }
        assert_eq!(peek(b"GET / HTTP/1.1\r\n"), FirstBytes::NotTls);
        assert_eq!(peek(b"SSH-2.0-OpenSSH_9.6\r\n"), FirstBytes::NotTls);
        let mut broken = hello.clone();
        broken[5] = 2; // a ServerHello, not a ClientHello
        assert_eq!(peek(&broken), FirstBytes::Malformed);
    }

    #[test]
    fn a_client_hello_split_over_records_is_put_back_together() {
        let hello = client_hello(Some("evil.example"));
        let handshake = &hello[5..];
        let mut split = Vec::new();
        for part in handshake.chunks(7) {
            split.extend_from_slice(&[0x16, 3, 1]);
            split.extend_from_slice(&(part.len() as u16).to_be_bytes());
            split.extend_from_slice(part);
        }
        assert_eq!(peek(&split), FirstBytes::Name("evil.example".into()));
        assert_eq!(peek(&split[..split.len() - 1]), FirstBytes::Incomplete);
        let mut interrupted = split[..12].to_vec();
        interrupted.extend_from_slice(&[0x17, 3, 3, 0, 1, 0]); // application data before the hello ended
        assert_eq!(peek(&interrupted), FirstBytes::Malformed);
    }
}
