import type { AuthProvidersBody, MeBody } from '@ioc/contracts';
import { ApiError, defineMessages, type ApiClient, type I18n } from '@ioc/console-data';
import { h, replaceChildren } from './dom-builder';
import { createLocaleSwitch } from './locale-switch';
import './login-view.css';

export const LOGIN_MESSAGES = defineMessages({
  vi: {
    title: 'Trung tâm giám sát, điều hành đô thị thông minh tỉnh Tây Ninh',
    heading: 'Đăng nhập',
    username: 'Tên đăng nhập',
    password: 'Mật khẩu',
    submit: 'Đăng nhập',
    submitting: 'Đang đăng nhập…',
    sso: 'Đăng nhập qua {name}',
    or: 'hoặc',
    'invalid-credentials': 'Sai tên đăng nhập hoặc mật khẩu.',
    'account-locked': 'Tài khoản tạm khóa do đăng nhập sai nhiều lần. Thử lại sau {wait}.',
    'account-locked-no-wait': 'Tài khoản tạm khóa do đăng nhập sai nhiều lần. Vui lòng thử lại sau.',
    'account-disabled': 'Tài khoản đã bị vô hiệu hóa. Liên hệ quản trị viên.',
    'address-throttled': 'Quá nhiều lần đăng nhập sai từ máy này. Thử lại sau {wait}.',
    'rate-limited': 'Quá nhiều yêu cầu. Thử lại sau {wait}.',
    network: 'Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.',
    other: 'Đăng nhập không thành công ({status}): {message}',
    seconds: '{n} giây',
    minutes: '{n} phút',
    'ended-session-ended': 'Phiên làm việc đã kết thúc. Vui lòng đăng nhập lại.',
    'ended-logout': 'Bạn đã đăng xuất.',
    'ended-token-expired': 'Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại.',
    'ended-account-disabled': 'Tài khoản đã bị vô hiệu hóa.',
    'ended-agency-disabled': 'Đơn vị của bạn đã bị vô hiệu hóa.',
    'ended-other': 'Phiên làm việc đã kết thúc ({reason}). Vui lòng đăng nhập lại.',
  },
  en: {
    title: 'Tay Ninh Province Smart City Monitoring and Operations Centre',
    heading: 'Log in',
    username: 'Username',
    password: 'Password',
    submit: 'Log in',
    submitting: 'Logging in…',
    sso: 'Log in with {name}',
    or: 'or',
    'invalid-credentials': 'Wrong username or password.',
    'account-locked': 'The account is locked after too many failed logins. Try again in {wait}.',
    'account-locked-no-wait': 'The account is locked after too many failed logins. Please try again later.',
    'account-disabled': 'The account is disabled. Contact an administrator.',
    'address-throttled': 'Too many failed logins from this computer. Try again in {wait}.',
    'rate-limited': 'Too many requests. Try again in {wait}.',
    network: 'Cannot reach the server. Check the network and try again.',
    other: 'Login failed ({status}): {message}',
    seconds: '{n} seconds',
    minutes: '{n} minutes',
    'ended-session-ended': 'Your session has ended. Please log in again.',
    'ended-logout': 'You have logged out.',
    'ended-token-expired': 'Your session has expired. Please log in again.',
    'ended-account-disabled': 'The account has been disabled.',
    'ended-agency-disabled': 'Your agency has been disabled.',
    'ended-other': 'Your session has ended ({reason}). Please log in again.',
  },
});

type LoginKey = keyof (typeof LOGIN_MESSAGES)['vi'];

/** A message of the login catalogue with its parameters (pure: the login view renders it). */
export interface LoginMessage {
  key: LoginKey;
  params?: Record<string, string | number>;
  /** A wait to render with `seconds`/`minutes` into `{wait}`. */
  waitSeconds?: number;
}

/**
 * What to tell the person after a failed login: by the API's `reason` (`invalid-credentials`,
 * `account-locked` with the wait from `Retry-After`, `account-disabled`, `address-throttled`,
 * `rate-limited`), a network failure (fetch's TypeError), or the status and message otherwise.
 */
export function loginErrorMessage(error: unknown): LoginMessage {
  if (!(error instanceof ApiError)) return { key: 'network' };
  const wait = error.retryAfterSeconds ?? undefined;
  const reason = error.reason ?? '';
  switch (reason) {
    case 'invalid-credentials':
    case 'account-disabled':
      return { key: reason };
    case 'account-locked':
      return wait === undefined
        ? { key: 'account-locked-no-wait' }
        : { key: 'account-locked', waitSeconds: wait };
    case 'address-throttled':
    case 'rate-limited':
      return { key: reason, waitSeconds: wait ?? 60 };
    default:
      return { key: 'other', params: { status: error.status, message: error.body.message ?? error.message } };
  }
}

/** The notice shown on the login page after the live feed or a 401 ended the session (`reason`). */
export function endedMessage(reason: string): LoginMessage {
  switch (reason) {
    case 'session-ended':
    case 'logout':
    case 'token-expired':
    case 'account-disabled':
    case 'agency-disabled':
      return { key: `ended-${reason}` };
    default:
      return { key: 'ended-other', params: { reason } };
  }
}

/** Renders a LoginMessage in the current language. */
export function renderLoginMessage(i18n: I18n, message: LoginMessage): string {
  const params: Record<string, string | number> = { ...message.params };
  if (message.waitSeconds !== undefined) {
    const s = message.waitSeconds;
    params['wait'] =
      s >= 120
        ? i18n.t(LOGIN_MESSAGES, 'minutes', { n: Math.ceil(s / 60) })
        : i18n.t(LOGIN_MESSAGES, 'seconds', { n: s });
  }
  return i18n.t(LOGIN_MESSAGES, message.key, params);
}

export interface LoginViewDeps {
  i18n: I18n;
  api: Pick<ApiClient, 'login'>;
  /** `GET /api/v1/auth/providers`; null when it could not be read (the password form still shows). */
  providers: AuthProvidersBody | null;
  /** Called with the principal after a successful login. */
  onLoggedIn(principal: MeBody): void;
  /** Why the previous session ended (`ended` reason or a 401's), shown above the form. */
  endedReason?: string | null;
  /** Full-page navigation to the SSO login URL (default `location.assign`). */
  navigate?(url: string): void;
}

export interface LoginView {
  /** Focuses the username field. */
  focus(): void;
  destroy(): void;
}

/**
 * The login page: `form[data-testid=login]` (username, password, submit), the SSO button
 * `[data-testid=sso-login]` when the API offers OIDC (a full-page navigation to its `loginUrl`),
 * errors in `[data-testid=login-error]` in the current language, and a language switch.
 */
export function createLoginView(container: HTMLElement, deps: LoginViewDeps): LoginView {
  const { i18n } = deps;
  const title = h('h1', { class: 'ioc-login__title' });
  const heading = h('h2', { class: 'ioc-login__heading', id: 'ioc-login-heading' });
  const usernameLabel = h('label', { for: 'ioc-login-username' });
  const username = h('input', {
    id: 'ioc-login-username',
    name: 'username',
    type: 'text',
    autocomplete: 'username',
    required: true,
    maxlength: 64,
    autocapitalize: 'none',
    spellcheck: 'false',
  });
  const passwordLabel = h('label', { for: 'ioc-login-password' });
  const password = h('input', {
    id: 'ioc-login-password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    maxlength: 256,
  });
  const submit = h('button', { type: 'submit', class: 'ioc-button ioc-button--primary' });
  const error = h('p', { class: 'ioc-login__error', 'data-testid': 'login-error', role: 'alert' });
  const notice = h('p', { class: 'ioc-login__notice', role: 'status' });
  const form = h(
    'form',
    {
      class: 'ioc-login__form',
      'data-testid': 'login',
      'aria-labelledby': 'ioc-login-heading',
      novalidate: true,
    },
    heading,
    notice,
    h('div', { class: 'ioc-field' }, usernameLabel, username),
    h('div', { class: 'ioc-field' }, passwordLabel, password),
    error,
    submit,
  );
  const oidc = deps.providers?.oidc;
  const sso = oidc?.enabled
    ? h('button', { type: 'button', class: 'ioc-button ioc-login__sso', 'data-testid': 'sso-login' })
    : null;
  const or = sso ? h('p', { class: 'ioc-login__or' }) : null;
  const localeSwitch = createLocaleSwitch(i18n);
  const card = h(
    'main',
    { class: 'ioc-login' },
    h('div', { class: 'ioc-login__bar' }, localeSwitch.element),
    title,
    form,
    or,
    sso,
  );
  replaceChildren(container, card);

  let errorMessage: LoginMessage | null = null;
  const endedMessageValue = deps.endedReason ? endedMessage(deps.endedReason) : null;
  let busy = false;

  const render = (): void => {
    title.textContent = i18n.t(LOGIN_MESSAGES, 'title');
    heading.textContent = i18n.t(LOGIN_MESSAGES, 'heading');
    usernameLabel.textContent = i18n.t(LOGIN_MESSAGES, 'username');
    passwordLabel.textContent = i18n.t(LOGIN_MESSAGES, 'password');
    submit.textContent = i18n.t(LOGIN_MESSAGES, busy ? 'submitting' : 'submit');
    error.textContent = errorMessage ? renderLoginMessage(i18n, errorMessage) : '';
    error.hidden = errorMessage === null;
    notice.textContent = endedMessageValue ? renderLoginMessage(i18n, endedMessageValue) : '';
    notice.hidden = endedMessageValue === null;
    if (or) or.textContent = i18n.t(LOGIN_MESSAGES, 'or');
    if (sso && oidc?.enabled) sso.textContent = i18n.t(LOGIN_MESSAGES, 'sso', { name: oidc.name });
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy) return;
    if (username.value.trim() === '' || password.value === '') {
      (username.value.trim() === '' ? username : password).focus();
      return;
    }
    busy = true;
    submit.disabled = true;
    errorMessage = null;
    render();
    deps.api.login(username.value.trim(), password.value).then(
      (answer) => {
        busy = false;
        password.value = '';
        deps.onLoggedIn(answer.principal);
      },
      (failure: unknown) => {
        busy = false;
        submit.disabled = false;
        password.value = '';
        errorMessage = loginErrorMessage(failure);
        render();
        password.focus();
      },
    );
  });
  sso?.addEventListener('click', () => {
    if (!oidc?.enabled) return;
    (deps.navigate ?? ((url: string) => window.location.assign(url)))(oidc.loginUrl);
  });

  render();
  const stop = i18n.onChange(render);
  return {
    focus: () => username.focus(),
    destroy() {
      stop();
      localeSwitch.destroy();
      card.remove();
    },
  };
}
