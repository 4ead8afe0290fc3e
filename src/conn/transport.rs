//! The byte stream under a connection: plain TCP today, TLS next.
//!
//! The reactor reads, writes and shuts down only through [`Transport`], so an encrypted
//! transport plugs in here without touching the loop. One notion beyond read and write
//! matters to the loop: [`Transport::has_buffered_plaintext`], input already taken from the
//! socket but not yet handed out (a TLS record decrypted in part). Edge-triggered, no event
//! will announce it, so the loop reads on while it is `true`.

use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

/// What one read gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadResult {
    /// `n` bytes (`n > 0`).
    Data(usize),
    /// The peer closed its side.
    Eof,
    /// Nothing to read now.
    WouldBlock,
    /// The socket failed.
    Failed,
}

/// A connection's byte stream.
#[derive(Debug)]
pub enum Transport {
    /// Plain TCP.
    Plain(TcpStream),
    /// No socket: the session layer's unit tests drive connections without one.
    #[cfg(test)]
    Detached,
}

impl Transport {
    /// Reads once into `buf` (retrying on EINTR).
    pub fn read(&mut self, buf: &mut [u8]) -> ReadResult {
        match self {
            Transport::Plain(sock) => loop {
                match sock.read(buf) {
                    Ok(0) => return ReadResult::Eof,
                    Ok(n) => return ReadResult::Data(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return ReadResult::WouldBlock
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return ReadResult::Failed,
                }
            },
            #[cfg(test)]
            Transport::Detached => ReadResult::WouldBlock,
        }
    }

    /// Writes some of `bytes`; the count taken, as `Write::write`.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(sock) => sock.write(bytes),
            #[cfg(test)]
            Transport::Detached => Ok(bytes.len()),
        }
    }

    /// Half-closes: nothing more will be sent (a TLS transport sends close_notify first).
    pub fn shutdown_write(&mut self) {
        match self {
            Transport::Plain(sock) => {
                let _ = sock.shutdown(Shutdown::Write);
            }
            #[cfg(test)]
            Transport::Detached => {}
        }
    }

    /// Input taken from the socket and not yet returned by [`Transport::read`].
    #[inline]
    pub fn has_buffered_plaintext(&self) -> bool {
        false
    }

    /// The socket, to register with the poller.
    pub fn source(&mut self) -> Option<&mut TcpStream> {
        match self {
            Transport::Plain(sock) => Some(sock),
            #[cfg(test)]
            Transport::Detached => None,
        }
    }
}
