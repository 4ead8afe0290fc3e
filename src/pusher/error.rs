//! The Pusher protocol's error codes, and the fixed reasons the server closes a socket.
//!
//! Pusher's ranges ("Error codes" in the Pusher protocol documentation): 4000–4099 the
//! connection must not reconnect; 4100–4199 reconnect after back-off; 4200–4299 reconnect
//! at once; 4300–4399 any other error, no close follows. A `pusher:error` that ends a
//! connection carries the same code as the WebSocket close that follows it.

/// A Pusher error code as the server sends it (in `pusher:error`, a close frame, or a
/// `pusher:subscription_error` status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Code {
    /// 4001: the app key names no app.
    AppNotFound = 4001,
    /// 4003: the app is disabled.
    AppDisabled = 4003,
    /// 4009: not authorised (sign-in refused or late, terminated by the app, a channel
    /// name or limit refused on subscribe).
    Unauthorized = 4009,
    /// 4100: over a quota (connections, presence members, output bytes): back off.
    OverQuota = 4100,
    /// 4200: the server is shutting down: reconnect elsewhere at once.
    ServerClosing = 4200,
    /// 4201: no answer to the server's `pusher:ping`.
    PongTimeout = 4201,
    /// 4300: a message the server could not act on; no close follows.
    BadMessage = 4300,
    /// 4301: a client event (or presence member) was refused; no close follows.
    ClientEventRefused = 4301,
    /// 4302: presence `channel_data` that cannot be used.
    InvalidChannelData = 4302,
}

impl Code {
    /// The numeric code.
    #[inline]
    pub fn as_u16(self) -> u16 {
        self as u16
    }
}

/// Why the server ends a WebSocket connection, when the reason is one of a fixed set:
/// the code and message of the `pusher:error` (if any) and of the close frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// A socket opened while the server shuts down.
    ClosingOnOpen,
    /// A socket open when the shutdown begins, or that speaks to a closing server.
    Closing,
    /// The app is disabled.
    AppDisabled,
    /// The app's `maxConnections` is reached.
    OverQuota,
    /// A user-authentication app's socket did not sign in (nor join a private channel) in time.
    AuthTimeout,
    /// `pusher:signin` with a bad signature.
    SigninRefused,
    /// `pusher:signin` whose `user_data` has no usable `id`.
    SigninWithoutId,
    /// The app asked to terminate the user's connections.
    Terminated,
    /// No answer to `pusher:ping` within the pong timeout (close frame only).
    PongTimeout,
    /// The socket's output passed its cap while it was behind (close frame only).
    SlowConsumer,
    /// The app store could not say whether the key exists (down, or too slow): reconnect
    /// after back-off, unlike 4001.
    StoreUnavailable,
}

impl Close {
    /// The code of the `pusher:error` and of the close frame.
    pub fn code(self) -> Code {
        match self {
            Close::ClosingOnOpen | Close::Closing => Code::ServerClosing,
            Close::AppDisabled => Code::AppDisabled,
            Close::OverQuota | Close::SlowConsumer | Close::StoreUnavailable => Code::OverQuota,
            Close::AuthTimeout | Close::SigninRefused | Close::SigninWithoutId => {
                Code::Unauthorized
            }
            Close::Terminated => Code::Unauthorized,
            Close::PongTimeout => Code::PongTimeout,
        }
    }

    /// The message (soketi's wording, which clients and tests match on).
    pub fn message(self) -> &'static str {
        match self {
            Close::ClosingOnOpen => "Server is closing. Please reconnect shortly.",
            Close::Closing => "Server closed. Please reconnect shortly.",
            Close::AppDisabled => "The app is not enabled.",
            Close::OverQuota => "The current concurrent connections quota has been reached.",
            Close::AuthTimeout => "Connection not authorized within timeout.",
            Close::SigninRefused => "Connection not authorized.",
            Close::SigninWithoutId => "The returned user data must contain the \"id\" field.",
            Close::Terminated => "You got disconnected by the app.",
            Close::PongTimeout => "Pong reply not received",
            Close::SlowConsumer => "Slow consumer: too many bytes waiting",
            Close::StoreUnavailable => "The app store is unavailable. Please reconnect shortly.",
        }
    }

    /// `true` when a `pusher:error` precedes the close frame.
    pub fn sends_error(self) -> bool {
        !matches!(self, Close::PongTimeout | Close::SlowConsumer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_fall_in_pushers_ranges() {
        // 40xx: do not reconnect; 41xx: back off; 42xx: reconnect now.
        assert_eq!(Close::ClosingOnOpen.code().as_u16(), 4200);
        assert_eq!(Close::Closing.code().as_u16(), 4200);
        assert_eq!(Close::OverQuota.code().as_u16(), 4100);
        assert_eq!(Close::SlowConsumer.code().as_u16(), 4100);
        assert_eq!(Close::PongTimeout.code().as_u16(), 4201);
        assert_eq!(Close::AppDisabled.code().as_u16(), 4003);
        for c in [Close::AuthTimeout, Close::SigninRefused, Close::Terminated] {
            assert_eq!(c.code(), Code::Unauthorized);
            assert!(c.sends_error());
        }
        assert!(!Close::PongTimeout.sends_error());
    }
}
