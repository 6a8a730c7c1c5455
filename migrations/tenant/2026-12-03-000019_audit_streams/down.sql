DROP TABLE audit_deliveries;
DROP TABLE audit_destinations;
