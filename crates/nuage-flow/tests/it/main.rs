//! nuage-flow without the server: Flink's DDL, the windowing functions'
//! windows as Flink documents them, and jobs over a real stream log.

mod ddl;
mod jobs;
mod joins;
mod kda;
mod window;
