"""Port and account safety: paper by default, live only when explicitly confirmed."""

from __future__ import annotations

from broker.ibkr.mapping import LIVE_PORTS, PAPER_ACCOUNT_PREFIX
from engine.ports import BrokerUnavailable


class BrokerRefused(BrokerUnavailable):
    """The adapter refuses this session for safety (port, account); retrying will not help."""


def mask_account(account: str) -> str:
    """An account id safe for logs: 'DU55…97'; never the whole id."""
    if len(account) <= 4:
        return "…"
    return f"{account[:4]}…{account[-2:]}"


def is_paper_account(account: str) -> bool:
    return account.upper().startswith(PAPER_ACCOUNT_PREFIX)


def check_port(port: int, live_confirmed_account: str | None) -> None:
    """Refuse a live port (4001/7496) unless live mode was confirmed at the composition root."""
    if port in LIVE_PORTS and not live_confirmed_account:
        raise BrokerRefused(
            f"port {port} is a LIVE trading port; live mode is not confirmed "
            '(needs mode = "live", DESKGATE_LIVE_CONFIRM=<account id> and the account id '
            "typed at start-up). Use 4002 (IB Gateway paper) or 7497 (TWS paper)."
        )


def choose_account(
    managed: list[str],
    wanted: str | None,
    live_confirmed_account: str | None,
) -> str:
    """Pick and check the session's account among the managed accounts.

    Without live confirmation only a paper (DU) account is accepted; with it, the connected
    account must be exactly the confirmed one.

    Raises:
        BrokerRefused: the session must not be used.
    """
    if not managed:
        raise BrokerRefused("the broker reported no managed accounts")
    if wanted:
        if wanted not in managed:
            raise BrokerRefused(
                f"configured account {mask_account(wanted)} is not among the accounts this "
                "login manages"
            )
        account = wanted
    elif live_confirmed_account and live_confirmed_account in managed:
        account = live_confirmed_account
    elif len(managed) == 1:
        account = managed[0]
    else:
        raise BrokerRefused(
            f"this login manages {len(managed)} accounts; set `account` in the config"
        )
    if live_confirmed_account:
        if account != live_confirmed_account:
            raise BrokerRefused(
                f"connected account {mask_account(account)} does not match the confirmed "
                f"live account {mask_account(live_confirmed_account)}; refusing"
            )
        return account
    if not is_paper_account(account):
        raise BrokerRefused(
            f"account {mask_account(account)} is not a paper (DU…) account and live mode is "
            "not confirmed; refusing. Log in to the paper account, or confirm live mode."
        )
    return account
