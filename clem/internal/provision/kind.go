package provision

// Kind is what a planned item is: the word the plan and the progress lines
// print, and what apply orders files by (trust files after agent-vault's
// CA, units last) and removes items by.
type Kind string

// Kinds of the files Build makes.
const (
	KindConfig     Kind = "config"      // a daemon's config, or a copy it reads
	KindAgent      Kind = "agent"       // an agent's runner config, prompt, env, MCP config, settings
	KindTrust      Kind = "trust"       // an agent's CA files, written after agent-vault made its CA
	KindCredential Kind = "credential"  // a secret a daemon's unit loads (LoadCredential=)
	KindKey        Kind = "key"         // the placeholder key
	KindEgressSpec Kind = "egress spec" // the table `clem egress verify --project` expects
	KindTmpfiles   Kind = "tmpfiles"    // the runtime directories at boot
	KindUnit       Kind = "unit"        // a systemd unit or the target
	KindSSHD       Kind = "sshd"        // the sshd drop-in denying the project's users
)

// Kinds of the other items a plan or a deprovision names.
const (
	KindUser    Kind = "user"
	KindDir     Kind = "dir"
	KindEgress  Kind = "egress"  // the nftables table
	KindDeny    Kind = "deny"    // a line of cron.deny or at.deny
	KindFile    Kind = "file"    // a file the manifest records, to remove or keep
	KindLinger  Kind = "linger"  // a user's linger file, removed
	KindCrontab Kind = "crontab" // a user's crontab, removed
)
