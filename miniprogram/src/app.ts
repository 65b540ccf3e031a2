import { api } from './api/client';

/** Logs in at launch (wx.login → POST /api/mp/login) so the first page's calls find a token. */
App({
  onLaunch() {
    api.token().catch(() => {
      // Each page shows its own message when a call fails; the next call logs in again.
    });
  },
});
