"""The gas-safety ledger: parties (经营主体), inspection templates and inspections, orders to rectify
(责令限期整改通知书), re-inspections and expiry re-checks, the enforcement ladder and campaign coverage."""
