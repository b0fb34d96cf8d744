//! Knowledge base: per-tenant articles, their chunks' vectors, and retrieval for agents and bots.

pub mod import;
pub mod index;
pub mod service;

pub use service::{KnowledgeBase, SearchRequest, Suggestion};
