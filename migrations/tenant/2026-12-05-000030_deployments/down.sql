DROP TABLE deployments;
DROP TABLE cicd_deliveries;
DROP TABLE cicd_integrations;
