import { api, messageOf, newRequestId } from '../../api/client';
import { ApiError, DURATION_LIMITS, PROMPT_MAX_CHARS, estimateCost, type Aspect, type CreateJobInput } from '../../api/types';
import { getSettings } from '../../config';
import { applyChrome, getLang, messages, t } from '../../i18n/index';
import { ASPECT_LABELS, STYLES, TEMPLATES, aspectIndexOf, styleAfterTap } from '../../presets';
import { choosePhotoFor } from '../../utils/photo';
import { requestSubscribe, toast } from '../../utils/wx-async';

interface Chip {
  id: string;
  label: string;
}

/** Submission key: kept while a submission may have reached the server, so a retry never makes two jobs. */
let pendingKey = '';


/**
 * Create: a prompt, a template or style, an optional reference photo, the framing, the duration
 * and draft or final; shows the estimated cost and the credits left, then submits and opens My videos.
 */
Component({
  data: {
    t: messages(),
    lang: getLang(),
    maxChars: PROMPT_MAX_CHARS,
    prompt: '',
    promptCount: '',
    templates: [] as Chip[],
    styles: [] as Chip[],
    style: '',
    aspects: [] as string[],
    aspectIndex: 0,
    draft: true,
    duration: DURATION_LIMITS.draft.default as number,
    durationMin: DURATION_LIMITS.draft.min as number,
    durationMax: DURATION_LIMITS.draft.max as number,
    durationText: '',
    photoPath: '',
    imageId: '',
    uploading: false,
    costText: '',
    quotaText: '',
    errorText: '',
    submitting: false,
  },
  methods: {
    onLoad() {
      this.render();
    },
    onShow() {
      this.render();
      void this.loadQuota();
    },
    /** Everything that depends on the language or the form, recomputed at once. */
    render() {
      const lang = getLang();
      const d = this.data;
      this.setData({
        t: messages(lang),
        lang,
        templates: TEMPLATES.map((tpl) => ({ id: tpl.id, label: t(tpl.title) })),
        styles: STYLES.map((s) => ({ id: s.name, label: t(s.label) })),
        aspects: ASPECT_LABELS.map((a) => t(a.label)),
        promptCount: t('create_prompt_count', { n: d.prompt.length, max: PROMPT_MAX_CHARS }),
        durationText: t('create_duration_value', { n: d.duration }),
        costText: t('create_cost', { n: estimateCost(d.duration, d.draft) }),
      });
      applyChrome('create_title');
    },
    async loadQuota() {
      try {
        const quota = await api.quota();
        this.setData({ quotaText: t('create_quota', { n: quota.available }) });
      } catch {
        this.setData({ quotaText: t('create_quota_unknown') });
      }
    },
    onPromptInput(e: WechatMiniprogram.CustomEvent<{ value: string }>) {
      const prompt = String(e.detail.value ?? '');
      this.setData({ prompt, errorText: '', promptCount: t('create_prompt_count', { n: prompt.length, max: PROMPT_MAX_CHARS }) });
    },
    onTemplateTap(e: WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { id: string }>) {
      const tpl = TEMPLATES.find((x) => x.id === e.currentTarget.dataset.id);
      if (!tpl) return;
      const prompt = t(tpl.prompt);
      const limits = DURATION_LIMITS[this.data.draft ? 'draft' : 'final'];
      this.setData({
        prompt,
        style: tpl.style,
        aspectIndex: Math.max(0, ASPECT_LABELS.findIndex((a) => a.aspect === tpl.aspect)),
        duration: Math.min(limits.max, Math.max(limits.min, tpl.duration)),
        errorText: '',
      });
      this.render();
    },
    onStyleTap(e: WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { id: string }>) {
      this.setData({ style: styleAfterTap(this.data.style, e) });
    },
    onAspectChange(e: WechatMiniprogram.CustomEvent<{ value: string | number }>) {
      const index = aspectIndexOf(e);
      if (index !== undefined) this.setData({ aspectIndex: index });
    },
    onDurationChange(e: WechatMiniprogram.CustomEvent<{ value: number }>) {
      const value = Math.round(Number(e.detail.value));
      if (!Number.isFinite(value)) return;
      this.setData({ duration: Math.min(this.data.durationMax, Math.max(this.data.durationMin, value)) });
      this.render();
    },
    onModeTap(e: WechatMiniprogram.CustomEvent<Record<string, never>, Record<string, never>, { mode: string }>) {
      const draft = e.currentTarget.dataset.mode !== 'final';
      const limits = DURATION_LIMITS[draft ? 'draft' : 'final'];
      this.setData({
        draft,
        durationMin: limits.min,
        durationMax: limits.max,
        duration: Math.min(limits.max, Math.max(limits.min, this.data.duration)),
      });
      this.render();
    },
    async onChoosePhoto() {
      await choosePhotoFor(this);
    },
    onRemovePhoto() {
      this.setData({ photoPath: '', imageId: '', uploading: false });
    },
    showError(message: string) {
      this.setData({ errorText: message });
      toast(message);
    },
    /** A storyboard written with friends (pages/board/board). */
    onBoardEntry() {
      wx.navigateTo({ url: '/pages/board/board' });
    },
    async onSubmit() {
      const d = this.data;
      if (d.submitting) return;
      const prompt = d.prompt.trim();
      if (prompt === '') return this.showError(t('create_error_empty'));
      if (prompt.length > PROMPT_MAX_CHARS) return this.showError(t('create_error_too_long', { max: PROMPT_MAX_CHARS, n: prompt.length }));
      if (d.uploading) return this.showError(t('create_error_uploading'));
      const aspect: Aspect = ASPECT_LABELS[d.aspectIndex]?.aspect ?? '9:16';
      const input: CreateJobInput = { prompt, aspect, duration: d.duration, draft: d.draft };
      if (d.style !== '') input.style = d.style;
      if (d.imageId !== '') input.imageId = d.imageId;
      this.setData({ submitting: true, errorText: '' });
      pendingKey = pendingKey || newRequestId();
      input.requestId = pendingKey;
      try {
        // Asked within the tap, as WeChat requires; a refusal only means no completion message.
        const template = getSettings().subscribeTemplateId;
        if (template !== '' && (await requestSubscribe(template))) input.subscribe = true;
        const job = await api.createJob(input);
        pendingKey = '';
        this.setData({ submitting: false });
        const cost = job.cost ?? estimateCost(d.duration, d.draft);
        toast(job.position !== undefined && job.position >= 1 ? t('create_submitted', { position: job.position, cost }) : t('create_submitted_plain', { cost }));
        void this.loadQuota();
        wx.switchTab({ url: '/pages/videos/videos' });
      } catch (error) {
        // A refusal is final for this submission; only an unanswered one keeps its key for the retry.
        if (!(error instanceof ApiError) || error.status !== 0) pendingKey = '';
        this.setData({ submitting: false });
        this.showError(messageOf(error));
      }
    },
  },
});
