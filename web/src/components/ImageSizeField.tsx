/** The image size of generated scenarios (their `image_size` parameter). */
export const IMAGE_SIZES = ['full', 'reduced', 'small'] as const;

export function ImageSizeField({
  id,
  value,
  onChange,
}: {
  id: string;
  value: string;
  onChange: (size: string) => void;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>Image size</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {IMAGE_SIZES.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </div>
  );
}
