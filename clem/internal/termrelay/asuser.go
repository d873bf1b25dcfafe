package termrelay

// AsUser is the command line that runs argv as user (its uid, its group
// and supplementary groups) with nothing left to gain: no capabilities,
// not even in the bounding set, and no_new_privs, so nothing it execs can
// take privileges back.
func AsUser(user string, argv ...string) []string {
	return append([]string{"setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups",
		"--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"}, argv...)
}
