// Package provision turns a loaded clem.yaml into a contained fleet on this
// host: OS users, root-owned configs and agent files, systemd credentials,
// unit files and the egress table. It computes the desired state, compares
// it with the host, prints the plan and applies it in a fixed order;
// Deprovision removes what the manifest says it made. Only the clem binary
// imports it, and only its root commands call Apply.
package provision
