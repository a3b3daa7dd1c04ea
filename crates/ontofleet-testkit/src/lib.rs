//! ontofleet-testkit
