//! Streamable HTTP (server side and a small client), over any [`MessageHandler`].
