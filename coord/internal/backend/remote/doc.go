// Package remote is what the github, slack and discord backends share: the
// task lifecycle kept on a remote service as an append-only log of the bot's
// own posts, and a change feed journalled in coord's state directory.
//
// Every service has threads (an issue, a top-level Slack message, a Discord
// forum post) and posts in them (issue comments, thread replies, thread
// messages). A task is a thread; its state is the fold, in post order, of
// the records coord's bot posted in it: a claim, a state change, each with
// the agent, coord's clock and the lease. The fold is what makes a claim
// safe without a transaction on the service: of two claims in one thread the
// earlier post wins, so a claimant posts, re-reads and backs off when its
// post is not the one that counts. Within one coord a per-task lock makes
// the race trivially one-winner; the fold is for everything else.
//
// Only records written by coord's own bot account are believed: a person
// can write any text, but cannot post as the bot. A service implements
// Service; Engine turns it into a backend.Backend. Only the backends under
// coord/internal/backend import this package.
package remote
