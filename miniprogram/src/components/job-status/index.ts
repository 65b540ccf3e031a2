import type { Job } from '../../api/types';
import { getLang, isLang } from '../../i18n/index';
import { jobView } from '../../utils/job-view';

function isJob(value: Partial<Job>): value is Job {
  return typeof value.id === 'string' && typeof value.state === 'string';
}

/**
 * A job's state as one line (queue position, step n/total, done, the refusal's message) and a
 * progress bar while it renders. Properties: `job` (the API's job) and `lang` (re-renders on change).
 */
Component({
  properties: {
    job: { type: Object, value: {} },
    lang: { type: String, value: '' },
  },
  data: {
    status: '',
    percent: -1,
    state: '',
    errorText: '',
  },
  observers: {
    'job, lang'(job: Partial<Job>, lang: string) {
      if (!isJob(job)) return;
      const view = jobView(job, isLang(lang) ? lang : getLang());
      this.setData({ status: view.status, percent: view.percent, state: view.state, errorText: view.errorText });
    },
  },
});
