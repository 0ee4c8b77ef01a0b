# bubblewrap where lockgate installs it, allowed to make user namespaces under Ubuntu's
# restriction: an unconfined profile that only gives the program a name and the `userns` rule.
abi <abi/4.0>,
include <tunables/global>

profile bwrap /usr/local/bin/bwrap flags=(unconfined) {
  userns,
}
