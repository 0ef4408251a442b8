//! nuage-sql
