//! What the three command lines (operator, kiosk, phone) do alike.

/// `cmd` reading each `(argument id, old environment name)` pair's old name when the
/// argument's current `POSFEE_…` variable is not set, so set-ups made for earlier versions go
/// on working.
pub fn with_old_env_names(
    mut cmd: clap::Command,
    old_names: &[(&str, &'static str)],
) -> clap::Command {
    for (id, old) in old_names {
        let new_set = cmd
            .get_arguments()
            .find(|a| a.get_id() == id)
            .and_then(|a| a.get_env())
            .is_some_and(|n| std::env::var_os(n).is_some());
        if !new_set && std::env::var_os(old).is_some() {
            cmd = cmd.mut_arg(*id, |a| a.env(*old));
        }
    }
    cmd
}
