//! The appliance side of the management API with nothing to report: for tests of the answers
//! that come from the control-plane machine alone.

use controlplane::management::ApplianceView;
use serde_json::Value;

pub fn view() -> ApplianceView {
    ApplianceView {
        counters: vec![],
        per_core: vec![],
        ports: Value::Null,
        control: Value::Null,
        control_loop: Default::default(),
        servers: Value::Null,
        neighbours: vec![],
        set_log_level: |_| Ok(()),
        locators: vec![],
        peer_names: vec![],
        petr: None,
        instance_packets: vec![(0, 0, 0)],
        eid_interfaces: vec![(0, "inside".into())],
    }
}
