# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_nkbackup_global_optspecs
    string join \n s3-config= cache-dir= no-cache h/help V/version
end

function __fish_nkbackup_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_nkbackup_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_nkbackup_using_subcommand
    set -l cmd (__fish_nkbackup_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c nkbackup -n "__fish_nkbackup_needs_command" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_needs_command" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_needs_command" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -s V -l version -d 'Print version'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "init" -d 'Create a repository and its nkbackup.toml'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "recipient" -d 'Manage the public keys backups are sealed to'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "card" -d 'OpenPGP smartcards: list, enroll, generate'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "recovery-key" -d 'The offline recovery key: make, check, export, split, combine'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "drill" -d 'Run a restore drill with one token (or `drill status`)'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "rewrap" -d 'Give existing backups a new header for the current recipients and groups (the payload is kept): after a token was added, revoked or a group changed'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "manpages" -d 'Write the man pages (one per command) into DIR'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "run" -d 'The night\'s work: every due job of [jobs], then prune, the retention check and the drill status; one summary, one exit code'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "erase" -d 'Crypto-erase periods now: delete their period keys from every keyring location (after saying which backups become unreadable)'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "copy" -d 'Replicate backups (no keys) to another directory or bucket'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "keyring" -d 'The period keys of classes with erasure_period'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "group" -d 'k-of-n token groups: add, list, remove'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "escrow" -d 'Escrow a service\'s own small secrets to the same recipients'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "seal" -d 'Seal paths (and/or standard input) into one encrypted backup'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "list" -d 'List backups'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "ls" -d 'List the entries of a backup (path, type, size, mode, mtime, digest) from its authenticated inner manifest; needs a key'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "find" -d 'Find which backups hold paths matching a glob; needs a key (one card operation per backup). Exit 1: none holds one'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "verify" -d 'Check a backup: without a key, its file against the sidecar; with --deep, every entry against the authenticated inner manifest'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "retention" -d 'Retention: deadlines, states, proof of deletion'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "prune" -d 'Delete overdue and surplus backups and leftovers, journaling each'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "restore" -d 'Restore a backup into a directory'
complete -c nkbackup -n "__fish_nkbackup_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand init" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand init" -l object-lock -d 'Bucket repositories: lock every backup in the bucket until its deadline with S3 Object Lock in this mode (the bucket must have been created with Object Lock; docs/STORAGE.md, "Object Lock")' -r -f -a "compliance\t'Nobody can delete a backup or shorten its lock before its deadline'
governance\t'Only a principal with s3:BypassGovernanceRetention can'"
complete -c nkbackup -n "__fish_nkbackup_using_subcommand init" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand init" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand init" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and not __fish_seen_subcommand_from add list remove revoke help" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and not __fish_seen_subcommand_from add list remove revoke help" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and not __fish_seen_subcommand_from add list remove revoke help" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and not __fish_seen_subcommand_from add list remove revoke help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and not __fish_seen_subcommand_from add list remove revoke help" -f -a "add" -d 'Add a software or offsite age key (age1...)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and not __fish_seen_subcommand_from add list remove revoke help" -f -a "list" -d 'List recipients'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and not __fish_seen_subcommand_from add list remove revoke help" -f -a "remove" -d 'Remove a recipient by label. Existing backups stay sealed to it (use `revoke` for a lost or stolen token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and not __fish_seen_subcommand_from add list remove revoke help" -f -a "revoke" -d 'Revoke a recipient (a lost or stolen token): remove it and rewrap every backup and escrow item so that its key opens none of them'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and not __fish_seen_subcommand_from add list remove revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l label -d 'A label for messages and sidecars (default: the key abbreviated)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l group -d 'Add it as a member of this k-of-n group (`nkbackup group add`)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l rewrap -d 'Then rewrap the existing backups so that it opens them too (needs a key that opens them now: --card, -i, --recovery-key…)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from list" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from list" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from list" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from list" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from remove" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from remove" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from remove" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from remove" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l json -d 'Print the rewrap\'s result as JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a software or offsite age key (age1...)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from help" -f -a "list" -d 'List recipients'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a recipient by label. Existing backups stay sealed to it (use `revoke` for a lost or stolen token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a recipient (a lost or stolen token): remove it and rewrap every backup and escrow item so that its key opens none of them'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recipient; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and not __fish_seen_subcommand_from list enroll generate help" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and not __fish_seen_subcommand_from list enroll generate help" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and not __fish_seen_subcommand_from list enroll generate help" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and not __fish_seen_subcommand_from list enroll generate help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and not __fish_seen_subcommand_from list enroll generate help" -f -a "list" -d 'List PC/SC readers\' OpenPGP cards: ident, maker, key, PIN retries, touch'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and not __fish_seen_subcommand_from list enroll generate help" -f -a "enroll" -d 'Add a card\'s decryption key as a recipient, with its signature key if it has one (reads public keys; no PIN). Again under the same label: updates the signature key only'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and not __fish_seen_subcommand_from list enroll generate help" -f -a "generate" -d 'Generate a new decryption (or, with --slot sign, signature) key on a card. DESTROYS the key there. Needs the admin PIN (NKBACKUP_ADMIN_PIN for automation, else asked)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and not __fish_seen_subcommand_from list enroll generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from list" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from list" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from list" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from enroll" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from enroll" -l ident -d 'The card, MMMM:SSSSSSSS (default: the only card present)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from enroll" -l label -d 'A label for messages and sidecars, e.g. alice-nk3 (with --adopt: default the adopted recipient\'s label)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from enroll" -l group -d 'Enroll it as a member of this k-of-n group (`nkbackup group add`): it then opens backups only with the group\'s threshold' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from enroll" -l adopt -d 'Take over the age recipient LABEL whose key is this card\'s (the recipient age-plugin-openpgp-card printed): the entry becomes this card\'s, and backups sealed to it open with --card' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from enroll" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from enroll" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from enroll" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from enroll" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from generate" -l ident -d 'The card, MMMM:SSSSSSSS' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from generate" -l algo -d 'cv25519, rsa2048, rsa3072, rsa4096, nistp256, nistp384 or nistp521 (for the signature slot cv25519 means Ed25519)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from generate" -l slot -d 'Which key: `decrypt` (opens backups) or `sign` (signs drill records; enroll the card again afterwards)' -r -f -a "decrypt\t''
sign\t''"
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from generate" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from generate" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from generate" -l yes -d 'Confirm that the card\'s current key in that slot may be destroyed'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from generate" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from generate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from help" -f -a "list" -d 'List PC/SC readers\' OpenPGP cards: ident, maker, key, PIN retries, touch'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from help" -f -a "enroll" -d 'Add a card\'s decryption key as a recipient, with its signature key if it has one (reads public keys; no PIN). Again under the same label: updates the signature key only'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from help" -f -a "generate" -d 'Generate a new decryption (or, with --slot sign, signature) key on a card. DESTROYS the key there. Needs the admin PIN (NKBACKUP_ADMIN_PIN for automation, else asked)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand card; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and not __fish_seen_subcommand_from new check export-age split combine help" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and not __fish_seen_subcommand_from new check export-age split combine help" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and not __fish_seen_subcommand_from new check export-age split combine help" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and not __fish_seen_subcommand_from new check export-age split combine help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and not __fish_seen_subcommand_from new check export-age split combine help" -f -a "new" -d 'Make the recovery key, print it once, and seal every later backup to it'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and not __fish_seen_subcommand_from new check export-age split combine help" -f -a "check" -d 'Check a typed recovery key against the repository; opens no backup'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and not __fish_seen_subcommand_from new check export-age split combine help" -f -a "export-age" -d 'Print the recovery key as an age identity (AGE-SECRET-KEY-1...), for restoring with stock `age`'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and not __fish_seen_subcommand_from new check export-age split combine help" -f -a "split" -d 'Split the recovery key into N shares, any K of which rebuild it'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and not __fish_seen_subcommand_from new check export-age split combine help" -f -a "combine" -d 'Rebuild the recovery key from shares and print it'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and not __fish_seen_subcommand_from new check export-age split combine help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from new" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from new" -l sheet -d 'Also write a printable page (HTML, with a QR code) to FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from new" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from new" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from new" -l passphrase -d 'Derive the key from a passphrase (Matrix m.pbkdf2) instead of drawing it'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from new" -l replace -d 'Replace an existing recovery key'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from new" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from new" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from export-age" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l threshold -d 'Shares needed to rebuild the key' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l shares -d 'Shares to make' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from split" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from combine" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from combine" -l share-file -d 'Files holding shares (one or more per file)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from combine" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from combine" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from combine" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from combine" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from help" -f -a "new" -d 'Make the recovery key, print it once, and seal every later backup to it'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from help" -f -a "check" -d 'Check a typed recovery key against the repository; opens no backup'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from help" -f -a "export-age" -d 'Print the recovery key as an age identity (AGE-SECRET-KEY-1...), for restoring with stock `age`'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from help" -f -a "split" -d 'Split the recovery key into N shares, any K of which rebuild it'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from help" -f -a "combine" -d 'Rebuild the recovery key from shares and print it'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand recovery-key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX]' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l class -d 'Drill the newest backup of this class' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l backup -d 'Drill this backup (id, prefix or latest)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l restore-to -d 'Also restore the data into DIR (new or empty)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l compare -d 'Compare the backup with this live source tree and report differences' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l group -d 'Drill a k-of-n group: its members open the backup together (their cards with --card, their key files with -i); every member used is journaled' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l random -d 'Pick a random backup of the class instead of the newest'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l json -d 'Print the journaled record as JSON (no progress bar)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -f -a "status" -d 'Per class and per token: the last passed drill, and whether it is within [drill] max_interval. Exit 8 if any is stale or never drilled'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and not __fish_seen_subcommand_from status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and __fish_seen_subcommand_from status" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX]' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and __fish_seen_subcommand_from status" -l at -d 'Evaluate at this time instead of now (RFC 3339 or YYYY-MM-DD)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and __fish_seen_subcommand_from status" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and __fish_seen_subcommand_from status" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and __fish_seen_subcommand_from status" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and __fish_seen_subcommand_from status" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and __fish_seen_subcommand_from help" -f -a "status" -d 'Per class and per token: the last passed drill, and whether it is within [drill] max_interval. Exit 8 if any is stale or never drilled'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand drill; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l class -d 'Only backups of this class (escrow items are left alone)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l dry-run -d 'Say what would be rewrapped; use no key, write nothing'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l json -d 'Print the result as JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l progress -d 'Draw a progress bar even when stderr is not a terminal'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l quiet -d 'Never draw a progress bar'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand rewrap" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand completions" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand completions" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand completions" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand manpages" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand manpages" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand manpages" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand manpages" -s h -l help -d 'Print help'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand run" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand run" -l metrics-file -d 'Write Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand run" -l at -d 'Evaluate prune, the check and drills at this time (for tests)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand run" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand run" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand run" -l dry-run -d 'Say what would be sealed and pruned; change nothing'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand run" -l json -d 'Print the result as JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand run" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand erase" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand erase" -l class -d 'The class (required with --period)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand erase" -l period -d 'The period, as `nkbackup keyring list` and sidecars name it (20261126T000000Z-7d)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand erase" -l before -d 'Every period that started before this time (RFC 3339 or YYYY-MM-DD)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand erase" -l at -d 'Journal this time instead of now (for tests; as prune\'s --at)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand erase" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand erase" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand erase" -l yes -d 'Do not ask: erase what is selected (for scripts)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand erase" -l json -d 'Print the result as JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand erase" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand erase" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand copy" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand copy" -l to -d 'The replica: a directory or s3://BUCKET[/PREFIX], made if absent' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand copy" -l class -d 'Only backups of this class' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand copy" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand copy" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand copy" -l json -d 'Print the result as JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand copy" -l progress -d 'Draw a progress bar even when stderr is not a terminal'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand copy" -l quiet -d 'Never draw a progress bar'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand copy" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand copy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and not __fish_seen_subcommand_from list help" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and not __fish_seen_subcommand_from list help" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and not __fish_seen_subcommand_from list help" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'List the period keys in every keyring location (no secret is read)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and __fish_seen_subcommand_from list" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and __fish_seen_subcommand_from list" -l class -d 'Only this class' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and __fish_seen_subcommand_from list" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and __fish_seen_subcommand_from list" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and __fish_seen_subcommand_from list" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the period keys in every keyring location (no secret is read)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand keyring; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and not __fish_seen_subcommand_from add list remove help" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and not __fish_seen_subcommand_from add list remove help" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and not __fish_seen_subcommand_from add list remove help" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and not __fish_seen_subcommand_from add list remove help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and not __fish_seen_subcommand_from add list remove help" -f -a "add" -d 'Define a k-of-n group; enroll its members after with `card enroll --group NAME` or `recipient add --group NAME`'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and not __fish_seen_subcommand_from add list remove help" -f -a "list" -d 'List groups and their members'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and not __fish_seen_subcommand_from add list remove help" -f -a "remove" -d 'Remove a group that has no members left'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and not __fish_seen_subcommand_from add list remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from add" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from add" -l threshold -d 'How many members must be present to open a backup (2 or more)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from add" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from add" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from add" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from list" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from list" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from list" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from list" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from remove" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from remove" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from remove" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from remove" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "add" -d 'Define a k-of-n group; enroll its members after with `card enroll --group NAME` or `recipient add --group NAME`'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "list" -d 'List groups and their members'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a group that has no members left'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand group; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and not __fish_seen_subcommand_from seal open list help" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and not __fish_seen_subcommand_from seal open list help" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and not __fish_seen_subcommand_from seal open list help" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and not __fish_seen_subcommand_from seal open list help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and not __fish_seen_subcommand_from seal open list help" -f -a "seal" -d 'Seal the secret read from standard input under NAME'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and not __fish_seen_subcommand_from seal open list help" -f -a "open" -d 'Open the newest version of NAME (or --id) and write it out'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and not __fish_seen_subcommand_from seal open list help" -f -a "list" -d 'List escrowed secrets: names and dates, never contents'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and not __fish_seen_subcommand_from seal open list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from seal" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from seal" -l name -d 'Name of the secret, e.g. synapse-signing-key' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from seal" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from seal" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from seal" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from seal" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l name -d 'Name of the secret' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l id -d 'A specific version' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l out -d 'Write to FILE (created with mode 0600) instead of standard output' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from open" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from list" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from list" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from list" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from list" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from help" -f -a "seal" -d 'Seal the secret read from standard input under NAME'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from help" -f -a "open" -d 'Open the newest version of NAME (or --id) and write it out'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from help" -f -a "list" -d 'List escrowed secrets: names and dates, never contents'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand escrow; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l class -d 'Retention class (a [classes.NAME] table of nkbackup.toml)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l stdin-name -d 'Read a stream from standard input and store it as NAME' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l lock-wait -d 'Seconds to wait for another writer\'s lock' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l exclude -d 'Leave out what PATTERN matches (gitignore syntax against absolute paths: \'*.tmp\', \'/var/lib/app/cache\', \'tmp/\'); repeatable' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l exclude-from -d 'Read exclude patterns from FILE, one per line; repeatable' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l skip-unreadable -d 'Record unreadable files as skipped instead of failing'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l strict -d 'Fail, committing nothing, if files are older than the class\'s source_max_age (default: warn)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l one-file-system -d 'Do not descend into other file systems (mount points are stored empty)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l exclude-caches -d 'Leave out the content of directories holding a CACHEDIR.TAG'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l progress -d 'Draw a progress bar even when stderr is not a terminal'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l quiet -d 'Never draw a progress bar'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l json -d 'Print the result as JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand seal" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand list" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand list" -l class -d 'Only this class' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand list" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand list" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand list" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand list" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l json -d 'Print JSON: the backup id and its entries as the inner manifest records them (path, type, size, mode, mtime, uid, gid, sha256, target)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l class -d 'Only backups of this class' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand find" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l deep -d 'Decrypt and check every entry (needs a key)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l progress -d 'Draw a progress bar even when stderr is not a terminal'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l quiet -d 'Never draw a progress bar'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and not __fish_seen_subcommand_from check verify help" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and not __fish_seen_subcommand_from check verify help" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and not __fish_seen_subcommand_from check verify help" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and not __fish_seen_subcommand_from check verify help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and not __fish_seen_subcommand_from check verify help" -f -a "check" -d 'Show every backup\'s deadline and state, and a summary per class. Needs no key. Exit 0: all within policy; 6: overdue backups exist; 7: problems (see stderr)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and not __fish_seen_subcommand_from check verify help" -f -a "verify" -d 'Prove the state: journaled deletions are gone and were on time, nothing is overdue, every class has a deadline, nothing is orphaned, the journals extend the heads given; optionally write a compliance report. Exit 0 when all holds, 6 on any violation'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and not __fish_seen_subcommand_from check verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from check" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from check" -l at -d 'Evaluate at this time instead of now (RFC 3339, or YYYY-MM-DD for midnight UTC)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from check" -l grace -d 'Leave incomplete writes and partial files younger than this' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from check" -l class -d 'Only this class' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from check" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from check" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from check" -l summary -d 'Only the per-class summary, not every backup'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from check" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from check" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -l at -d 'Evaluate at this time instead of now (RFC 3339, or YYYY-MM-DD for midnight UTC)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -l grace -d 'Leave incomplete writes and partial files younger than this' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -l report -d 'Write a compliance report (FILE.md, with FILE.svg beside it, or FILE.html with the timeline inline)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -l since -d 'Report deletions from this time on (default: the whole journal)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -l expect-head -d 'A journal head kept from an earlier report: the journal must extend it (deletions, drills, rewraps or erasures; repeatable)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -l digests -d 'Also check every data file\'s SHA-256 against its sidecar (reads all backup data)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from help" -f -a "check" -d 'Show every backup\'s deadline and state, and a summary per class. Needs no key. Exit 0: all within policy; 6: overdue backups exist; 7: problems (see stderr)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Prove the state: journaled deletions are gone and were on time, nothing is overdue, every class has a deadline, nothing is orphaned, the journals extend the heads given; optionally write a compliance report. Exit 0 when all holds, 6 on any violation'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand retention; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand prune" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand prune" -l at -d 'Evaluate at this time instead of now (RFC 3339, or YYYY-MM-DD for midnight UTC)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand prune" -l grace -d 'Leave incomplete writes and partial files younger than this' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand prune" -l lock-wait -d 'Seconds to wait for another writer\'s lock' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand prune" -l ahead -d 'Also delete what reaches its deadline within this time, so that a prune run this often never deletes late (0: only what is overdue)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand prune" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand prune" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand prune" -l dry-run -d 'Show what would be deleted; change nothing'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand prune" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand prune" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l repo -d 'The repository: a directory, or s3://BUCKET[/PREFIX] (docs/STORAGE.md)' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l to -d 'Target directory: new or empty (see --force)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l path -d 'Only restore this path (and what is below it), e.g. logs/x.log' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -s i -l identity -d 'An age identity file (AGE-SECRET-KEY-1...); may be repeated' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l recovery-key-file -d 'Read the recovery key from FILE' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l recovery-shares -d 'Rebuild the recovery key from share files (at least the threshold)' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l card -d 'Open with an enrolled OpenPGP card (any enrolled one present, or the one with this ident, e.g. 000F:1234ABCD). The PIN comes from NKBACKUP_PIN (automation/tests), --pin-file, pinentry or the terminal' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l pin-file -d 'Read the card\'s user PIN from the first line of this file' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l card-timeout -d 'Seconds to wait for an enrolled token to be inserted' -r
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l s3-config -d 'S3 endpoint, region and credentials for s3:// repositories (TOML; see docs/STORAGE.md). Default: the AWS_* environment variables' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l cache-dir -d 'Where a bucket repository\'s sidecars are cached, so that listing it fetches only new ones (docs/STORAGE.md, "Sidecar cache"). Default: $XDG_CACHE_HOME/nkbackup, else ~/.cache/nkbackup' -r -F
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l force -d 'Restore into a non-empty directory; files from the backup replace files at the same paths, other files stay'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l recovery-key -d 'Ask for the recovery key (typed without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l recovery-passphrase -d 'Derive the recovery key from its passphrase (asked without echo)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l i-know-the-last-try -d 'Present the PIN even when only one try is left (a wrong PIN then locks the token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l progress -d 'Draw a progress bar even when stderr is not a terminal'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l quiet -d 'Never draw a progress bar'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l json -d 'Print JSON'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -l no-cache -d 'Fetch every sidecar from the bucket; neither read nor write the sidecar cache'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "init" -d 'Create a repository and its nkbackup.toml'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "recipient" -d 'Manage the public keys backups are sealed to'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "card" -d 'OpenPGP smartcards: list, enroll, generate'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "recovery-key" -d 'The offline recovery key: make, check, export, split, combine'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "drill" -d 'Run a restore drill with one token (or `drill status`)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "rewrap" -d 'Give existing backups a new header for the current recipients and groups (the payload is kept): after a token was added, revoked or a group changed'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "completions" -d 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "manpages" -d 'Write the man pages (one per command) into DIR'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "run" -d 'The night\'s work: every due job of [jobs], then prune, the retention check and the drill status; one summary, one exit code'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "erase" -d 'Crypto-erase periods now: delete their period keys from every keyring location (after saying which backups become unreadable)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "copy" -d 'Replicate backups (no keys) to another directory or bucket'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "keyring" -d 'The period keys of classes with erasure_period'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "group" -d 'k-of-n token groups: add, list, remove'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "escrow" -d 'Escrow a service\'s own small secrets to the same recipients'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "seal" -d 'Seal paths (and/or standard input) into one encrypted backup'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "list" -d 'List backups'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "ls" -d 'List the entries of a backup (path, type, size, mode, mtime, digest) from its authenticated inner manifest; needs a key'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "find" -d 'Find which backups hold paths matching a glob; needs a key (one card operation per backup). Exit 1: none holds one'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "verify" -d 'Check a backup: without a key, its file against the sidecar; with --deep, every entry against the authenticated inner manifest'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "retention" -d 'Retention: deadlines, states, proof of deletion'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "prune" -d 'Delete overdue and surplus backups and leftovers, journaling each'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "restore" -d 'Restore a backup into a directory'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and not __fish_seen_subcommand_from init recipient card recovery-key drill rewrap completions manpages run erase copy keyring group escrow seal list ls find verify retention prune restore help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from recipient" -f -a "add" -d 'Add a software or offsite age key (age1...)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from recipient" -f -a "list" -d 'List recipients'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from recipient" -f -a "remove" -d 'Remove a recipient by label. Existing backups stay sealed to it (use `revoke` for a lost or stolen token)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from recipient" -f -a "revoke" -d 'Revoke a recipient (a lost or stolen token): remove it and rewrap every backup and escrow item so that its key opens none of them'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from card" -f -a "list" -d 'List PC/SC readers\' OpenPGP cards: ident, maker, key, PIN retries, touch'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from card" -f -a "enroll" -d 'Add a card\'s decryption key as a recipient, with its signature key if it has one (reads public keys; no PIN). Again under the same label: updates the signature key only'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from card" -f -a "generate" -d 'Generate a new decryption (or, with --slot sign, signature) key on a card. DESTROYS the key there. Needs the admin PIN (NKBACKUP_ADMIN_PIN for automation, else asked)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from recovery-key" -f -a "new" -d 'Make the recovery key, print it once, and seal every later backup to it'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from recovery-key" -f -a "check" -d 'Check a typed recovery key against the repository; opens no backup'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from recovery-key" -f -a "export-age" -d 'Print the recovery key as an age identity (AGE-SECRET-KEY-1...), for restoring with stock `age`'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from recovery-key" -f -a "split" -d 'Split the recovery key into N shares, any K of which rebuild it'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from recovery-key" -f -a "combine" -d 'Rebuild the recovery key from shares and print it'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from drill" -f -a "status" -d 'Per class and per token: the last passed drill, and whether it is within [drill] max_interval. Exit 8 if any is stale or never drilled'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from keyring" -f -a "list" -d 'List the period keys in every keyring location (no secret is read)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "add" -d 'Define a k-of-n group; enroll its members after with `card enroll --group NAME` or `recipient add --group NAME`'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "list" -d 'List groups and their members'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from group" -f -a "remove" -d 'Remove a group that has no members left'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from escrow" -f -a "seal" -d 'Seal the secret read from standard input under NAME'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from escrow" -f -a "open" -d 'Open the newest version of NAME (or --id) and write it out'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from escrow" -f -a "list" -d 'List escrowed secrets: names and dates, never contents'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from retention" -f -a "check" -d 'Show every backup\'s deadline and state, and a summary per class. Needs no key. Exit 0: all within policy; 6: overdue backups exist; 7: problems (see stderr)'
complete -c nkbackup -n "__fish_nkbackup_using_subcommand help; and __fish_seen_subcommand_from retention" -f -a "verify" -d 'Prove the state: journaled deletions are gone and were on time, nothing is overdue, every class has a deadline, nothing is orphaned, the journals extend the heads given; optionally write a compliance report. Exit 0 when all holds, 6 on any violation'
