// How figures are written in the table.
export const ms = (value) => (Number.isFinite(value) ? `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms` : 'n/a');
export const perSecond = (value) => (Number.isFinite(value) ? `${Math.round(value).toLocaleString('en')}/s` : 'n/a');
export const mb = (bytes) => `${(bytes / 1048576).toFixed(1)} MB`;
export const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
/** measured ÷ reference, as a factor. */
export const times = (measured, reference) => (reference > 0 ? `${(measured / reference).toFixed(2)}×` : 'n/a');
/** measured ÷ reference, as a share. */
export const share = (measured, reference) => (reference > 0 ? `${Math.round((100 * measured) / reference)} %` : 'n/a');
export const met = (ok) => (ok === null || ok === undefined ? '' : ok ? 'yes' : '**no**');
